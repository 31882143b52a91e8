-- +goose Up
-- A cooperative's monthly statement. While no row exists (or it is open / returned) the figures
-- are computed from the visits; a submitted or approved statement keeps the figures it was
-- submitted with in data. An approved month is locked: its visits cannot change.
CREATE TABLE statements (
    ambito_id      uuid NOT NULL,
    cooperative_id uuid NOT NULL,
    month          date NOT NULL CHECK (extract(day FROM month) = 1), -- the month's first day
    status         text NOT NULL CHECK (status IN ('open', 'submitted', 'returned', 'approved')),
    data           jsonb NOT NULL,
    version        bigint NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (ambito_id, cooperative_id, month)
);

-- +goose Down
DROP TABLE statements;
