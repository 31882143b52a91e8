-- +goose Up
-- The authorization as the service writes it is data (jsonb); the columns are those queries
-- filter and index on. Every row carries its ambito_id.
CREATE TABLE authorizations (
    id             uuid PRIMARY KEY,
    ambito_id      uuid NOT NULL,
    istat_code     text NOT NULL,
    case_id        uuid NOT NULL,
    citizen_id     uuid NOT NULL,
    cooperative_id uuid NOT NULL,
    service_type   text NOT NULL,
    status         text NOT NULL CHECK (status IN ('draft', 'active', 'suspended', 'closed')),
    data           jsonb NOT NULL,
    version        bigint NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX authorizations_comune ON authorizations (ambito_id, istat_code, id DESC);
CREATE INDEX authorizations_cooperative ON authorizations (ambito_id, cooperative_id, id DESC);
CREATE INDEX authorizations_citizen ON authorizations (ambito_id, citizen_id);
CREATE INDEX authorizations_case ON authorizations (ambito_id, case_id);

-- Every version of every authorization, never updated nor deleted.
CREATE TABLE authorization_versions (
    authorization_id uuid NOT NULL REFERENCES authorizations (id),
    ambito_id        uuid NOT NULL,
    version          bigint NOT NULL,
    change           text NOT NULL CHECK (change IN ('created', 'updated', 'status_changed')),
    changed_by       jsonb NOT NULL,
    changed_at       timestamptz NOT NULL,
    data             jsonb NOT NULL,
    PRIMARY KEY (authorization_id, version)
);

-- The versions are append-only and no authorization is ever deleted: the database refuses what
-- the service never does.
-- +goose StatementBegin
CREATE FUNCTION interventions_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% of % is not allowed: the table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER authorization_versions_append_only BEFORE UPDATE OR DELETE ON authorization_versions
    FOR EACH ROW EXECUTE FUNCTION interventions_append_only();
CREATE TRIGGER authorizations_never_deleted BEFORE DELETE ON authorizations
    FOR EACH ROW EXECUTE FUNCTION interventions_append_only();

-- +goose Down
DROP TABLE authorization_versions, authorizations;
DROP FUNCTION interventions_append_only();
