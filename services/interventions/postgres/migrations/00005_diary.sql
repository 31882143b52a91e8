-- +goose Up
-- The diary of an authorization: entries never changed nor deleted; a correction is a new entry
-- that names the one it corrects (of the same authorization).
CREATE TABLE diary_entries (
    id               uuid PRIMARY KEY,
    ambito_id        uuid NOT NULL,
    authorization_id uuid NOT NULL REFERENCES authorizations (id),
    category         text NOT NULL,
    text             text NOT NULL,
    occurred_on      date NOT NULL,
    visibility       text NOT NULL CHECK (visibility IN ('team', 'coordinator', 'social_services')),
    corrects         uuid NULL,
    author_id        text NOT NULL,
    author           jsonb NOT NULL,
    created_at       timestamptz NOT NULL,
    UNIQUE (authorization_id, id),
    -- a correction corrects an entry of the same diary
    FOREIGN KEY (authorization_id, corrects) REFERENCES diary_entries (authorization_id, id)
);
CREATE INDEX diary_entries_authorization ON diary_entries (ambito_id, authorization_id, id DESC);
CREATE INDEX diary_entries_corrects ON diary_entries (corrects) WHERE corrects IS NOT NULL;
CREATE TRIGGER diary_entries_append_only BEFORE UPDATE OR DELETE ON diary_entries
    FOR EACH ROW EXECUTE FUNCTION interventions_append_only();

-- +goose Down
DROP TABLE diary_entries;
