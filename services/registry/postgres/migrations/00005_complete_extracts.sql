-- A population-register extract may be flagged complete: the comune's residents it does not
-- name are then marked moved away (never deleted) before its rows are applied. The import
-- records the flag, how many it marked, and whether the marking has been done (an import
-- resumed after a stop does not mark twice).

-- +goose Up
ALTER TABLE imports ADD COLUMN complete boolean NOT NULL DEFAULT false,
    ADD COLUMN moved_away bigint NOT NULL DEFAULT 0,
    ADD COLUMN absent_marked boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE imports DROP COLUMN complete, DROP COLUMN moved_away, DROP COLUMN absent_marked;
