-- +goose Up
-- Each table has the columns queries filter, join and index on; data is the record as the
-- service writes it (jsonb), so that the many descriptive fields need no column each. Every row
-- carries its ambito_id.

-- Phase A: accesses (scheda di accesso e orientamento).
CREATE TABLE accesses (
    id          uuid PRIMARY KEY,
    ambito_id   uuid NOT NULL,
    istat_code  text NOT NULL,
    access_date date NOT NULL,
    citizen_id  uuid,
    outcome     text,
    recorded_by text NOT NULL,
    data        jsonb NOT NULL,
    version     bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX accesses_comune ON accesses (ambito_id, istat_code, id DESC);
CREATE INDEX accesses_citizen ON accesses (ambito_id, citizen_id) WHERE citizen_id IS NOT NULL;
CREATE INDEX accesses_recorder ON accesses (ambito_id, recorded_by);

-- The versions of the needs taxonomy an ambito made (version 1 ships with the service).
CREATE TABLE needs_taxonomies (
    ambito_id  uuid NOT NULL,
    version    integer NOT NULL CHECK (version >= 2),
    data       jsonb NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ambito_id, version)
);

-- Cases opened by a presa in carico, never deleted.
CREATE TABLE cases (
    id              uuid PRIMARY KEY,
    ambito_id       uuid NOT NULL,
    citizen_id      uuid NOT NULL,
    istat_code      text NOT NULL,
    status          text NOT NULL CHECK (status IN ('open', 'suspended', 'closed')),
    responsible_id  uuid NOT NULL,
    case_manager_id uuid NOT NULL,
    access_id       uuid REFERENCES accesses (id),
    data            jsonb NOT NULL,
    version         bigint NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX cases_comune ON cases (ambito_id, istat_code, id DESC);
CREATE INDEX cases_responsible ON cases (ambito_id, responsible_id);
CREATE INDEX cases_case_manager ON cases (ambito_id, case_manager_id);
CREATE INDEX cases_citizen ON cases (ambito_id, citizen_id);
CREATE UNIQUE INDEX cases_access ON cases (access_id) WHERE access_id IS NOT NULL;

CREATE TABLE case_status_history (
    id          bigserial PRIMARY KEY,
    ambito_id   uuid NOT NULL,
    case_id     uuid NOT NULL REFERENCES cases (id),
    status      text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    on_date     date NOT NULL,
    by_operator jsonb NOT NULL,
    at          timestamptz NOT NULL
);
CREATE INDEX case_status_history_case ON case_status_history (case_id, id);

CREATE TABLE case_transfers (
    id        uuid PRIMARY KEY,
    ambito_id uuid NOT NULL,
    case_id   uuid NOT NULL REFERENCES cases (id),
    data      jsonb NOT NULL,
    at        timestamptz NOT NULL
);
CREATE INDEX case_transfers_case ON case_transfers (case_id, at);

CREATE TABLE case_closures (
    id        bigserial PRIMARY KEY,
    ambito_id uuid NOT NULL,
    case_id   uuid NOT NULL REFERENCES cases (id),
    data      jsonb NOT NULL,
    at        timestamptz NOT NULL
);
CREATE INDEX case_closures_case ON case_closures (case_id, id);

-- Phase B.
CREATE TABLE assessments (
    id          uuid PRIMARY KEY,
    ambito_id   uuid NOT NULL,
    case_id     uuid NOT NULL REFERENCES cases (id),
    assessed_on date NOT NULL,
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX assessments_case ON assessments (case_id, id DESC);

-- Phase C: every version of every plan.
CREATE TABLE case_plans (
    case_id      uuid NOT NULL REFERENCES cases (id),
    version      bigint NOT NULL CHECK (version >= 1),
    ambito_id    uuid NOT NULL,
    cooperatives uuid[] NOT NULL DEFAULT '{}',
    data         jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (case_id, version)
);

CREATE TABLE diary_entries (
    id             uuid PRIMARY KEY,
    ambito_id      uuid NOT NULL,
    case_id        uuid NOT NULL REFERENCES cases (id),
    visibility     text NOT NULL CHECK (visibility IN ('team', 'social_service', 'cooperative')),
    cooperative_id uuid,
    author_id      text NOT NULL,
    data           jsonb NOT NULL,
    created_at     timestamptz NOT NULL,
    CHECK ((visibility = 'cooperative') = (cooperative_id IS NOT NULL))
);
CREATE INDEX diary_entries_case ON diary_entries (case_id, id DESC);

-- History is append-only and a case file is never deleted: the triggers refuse what the
-- service never does.
-- +goose StatementBegin
CREATE FUNCTION intake_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% of % is not allowed: the table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER case_status_history_append_only BEFORE UPDATE OR DELETE ON case_status_history
    FOR EACH ROW EXECUTE FUNCTION intake_append_only();
CREATE TRIGGER case_transfers_append_only BEFORE UPDATE OR DELETE ON case_transfers
    FOR EACH ROW EXECUTE FUNCTION intake_append_only();
CREATE TRIGGER case_closures_append_only BEFORE UPDATE OR DELETE ON case_closures
    FOR EACH ROW EXECUTE FUNCTION intake_append_only();
CREATE TRIGGER assessments_append_only BEFORE UPDATE OR DELETE ON assessments
    FOR EACH ROW EXECUTE FUNCTION intake_append_only();
CREATE TRIGGER case_plans_append_only BEFORE UPDATE OR DELETE ON case_plans
    FOR EACH ROW EXECUTE FUNCTION intake_append_only();
CREATE TRIGGER diary_entries_append_only BEFORE UPDATE OR DELETE ON diary_entries
    FOR EACH ROW EXECUTE FUNCTION intake_append_only();
CREATE TRIGGER cases_never_deleted BEFORE DELETE ON cases
    FOR EACH ROW EXECUTE FUNCTION intake_append_only();
CREATE TRIGGER accesses_never_deleted BEFORE DELETE ON accesses
    FOR EACH ROW EXECUTE FUNCTION intake_append_only();

-- +goose Down
DROP TABLE diary_entries, case_plans, assessments, case_closures, case_transfers, case_status_history, cases, needs_taxonomies, accesses;
DROP FUNCTION intake_append_only();
