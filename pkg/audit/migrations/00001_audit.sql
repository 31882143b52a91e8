-- +goose Up

-- One row per chain: a chain belongs to one running audit.Log (one replica since its start) and is
-- created with that log's first batch. head_seq/head_hash move forward in the same transaction as
-- the records they cover.
CREATE TABLE audit_chains (
    chain_id   uuid        PRIMARY KEY,
    started_at timestamptz NOT NULL,
    head_seq   bigint      NOT NULL CHECK (head_seq >= 1),
    head_hash  bytea       NOT NULL CHECK (octet_length(head_hash) = 32)
);

-- The records. (chain_id, seq) is the position in a chain; hash = SHA-256(prev_hash || encoding of
-- the row), see the package documentation of pkg/audit. details is json, not jsonb: json keeps the
-- exact text that was hashed, jsonb would reformat it.
CREATE TABLE audit_records (
    chain_id      uuid        NOT NULL,
    seq           bigint      NOT NULL CHECK (seq >= 1),
    id            uuid        NOT NULL,
    occurred_at   timestamptz NOT NULL,
    request_id    text        NOT NULL,
    actor_id      text        NOT NULL,
    actor_org     text        NOT NULL,
    actor_role    text        NOT NULL,
    ambito_id     text        NOT NULL,
    action        text        NOT NULL,
    resource_type text        NOT NULL,
    resource_id   text        NOT NULL,
    citizen_id    text        NULL,
    purpose       text        NULL,
    outcome       text        NOT NULL,
    details       json        NULL,
    prev_hash     bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
    hash          bytea       NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (chain_id, seq)
);

-- Reading is always scoped by ambito (the tenant), newest first, with (occurred_at, chain_id, seq)
-- as the cursor key.
CREATE INDEX audit_records_citizen_idx ON audit_records (ambito_id, citizen_id, occurred_at, chain_id, seq)
    WHERE citizen_id IS NOT NULL;
CREATE INDEX audit_records_actor_idx ON audit_records (ambito_id, actor_id, occurred_at, chain_id, seq);
CREATE INDEX audit_records_time_idx ON audit_records (ambito_id, occurred_at, chain_id, seq);

-- Append-only, enforced by the database: records are never updated, deleted or truncated.
-- +goose StatementBegin
CREATE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_records is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only();

-- A chain head only moves forward; a chain row is never deleted.
-- +goose StatementBegin
CREATE FUNCTION audit_chains_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.chain_id = OLD.chain_id AND NEW.started_at = OLD.started_at
        AND NEW.head_seq > OLD.head_seq THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_chains heads only move forward: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_chains_forward_only BEFORE UPDATE OR DELETE ON audit_chains
    FOR EACH ROW EXECUTE FUNCTION audit_chains_forward_only();
CREATE TRIGGER audit_chains_no_truncate BEFORE TRUNCATE ON audit_chains
    FOR EACH STATEMENT EXECUTE FUNCTION audit_chains_forward_only();

-- +goose Down
DROP TABLE audit_records;
DROP TABLE audit_chains;
DROP FUNCTION audit_records_append_only();
DROP FUNCTION audit_chains_forward_only();
