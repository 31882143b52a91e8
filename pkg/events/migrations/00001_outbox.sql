-- +goose Up
CREATE TABLE outbox (
    seq            bigserial PRIMARY KEY,
    xid            xid8 NOT NULL DEFAULT pg_current_xact_id(),
    id             uuid NOT NULL UNIQUE,
    ambito_id      text NOT NULL,
    type           text NOT NULL,
    aggregate_type text NOT NULL,
    aggregate_id   text NOT NULL,
    occurred_at    timestamptz NOT NULL,
    payload        jsonb NOT NULL
);
-- The feed reads in (xid, seq) order: see events.go.
CREATE INDEX outbox_xid_seq ON outbox (xid, seq);

-- +goose Down
DROP TABLE outbox;
