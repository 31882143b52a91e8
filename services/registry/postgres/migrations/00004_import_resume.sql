-- An import found processing at start (the process stopped mid-import) is resumed by the
-- service on behalf of whoever started it: who, in which organization and role, is kept with
-- the import for the audit record of its completion.

-- +goose Up
ALTER TABLE imports ADD COLUMN created_by_org text NOT NULL DEFAULT '',
    ADD COLUMN created_by_role text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE imports DROP COLUMN created_by_org, DROP COLUMN created_by_role;
