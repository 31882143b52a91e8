-- +goose Up
-- The metadata of the documents kept on an authorization; the bytes are in the object store
-- (pkg/docstore) under object_key, checked against sha256 on every read. Written once: a
-- document is never changed nor deleted.
CREATE TABLE documents (
    id               uuid PRIMARY KEY,
    ambito_id        uuid NOT NULL,
    authorization_id uuid NOT NULL REFERENCES authorizations (id),
    kind             text NOT NULL CHECK (kind IN ('service_agreement', 'signed_timesheet', 'report', 'other')),
    filename         text NOT NULL CHECK (length(filename) BETWEEN 1 AND 200),
    content_type     text NOT NULL CHECK (content_type IN ('application/pdf', 'image/png', 'image/jpeg')),
    size             bigint NOT NULL CHECK (size > 0),
    sha256           text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    object_key       text NOT NULL UNIQUE,
    encrypted        boolean NOT NULL,
    uploaded_by      jsonb NOT NULL,
    uploaded_at      timestamptz NOT NULL
);
CREATE INDEX documents_authorization ON documents (ambito_id, authorization_id, id DESC);
CREATE TRIGGER documents_append_only BEFORE UPDATE OR DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION interventions_append_only();

-- +goose Down
DROP TABLE documents;
