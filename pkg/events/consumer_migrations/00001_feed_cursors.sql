-- +goose Up
-- The position of each of the service's consumers in a peer's feed (events.Consumer): written
-- in the same transaction as what the consumer made of the events up to it.
CREATE TABLE feed_cursors (
    consumer   text PRIMARY KEY,
    position   text NOT NULL,
    applied    bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE feed_cursors;
