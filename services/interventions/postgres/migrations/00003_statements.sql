-- +goose Up
-- A cooperative's monthly statement. While no row exists (or it is open / returned) the figures
-- are computed from the visits; a submitted or approved statement keeps the figures it was
-- submitted with in data. An approved month is locked: its visits cannot change (a visit's
-- write reads the row FOR SHARE, so that an approval and a visit of the month never both commit).
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
CREATE INDEX statements_month ON statements (ambito_id, month);

-- Every version of a statement as it was stored (append-only): who moved it, when, and how.
-- Version 1 is the open statement before any row exists; the first row is version 2.
CREATE TABLE statement_versions (
    ambito_id      uuid NOT NULL,
    cooperative_id uuid NOT NULL,
    month          date NOT NULL,
    version        bigint NOT NULL,
    action         text NOT NULL CHECK (action IN ('submitted', 'approved', 'returned')),
    status         text NOT NULL,
    changed_by     jsonb NOT NULL,
    changed_at     timestamptz NOT NULL,
    data           jsonb NOT NULL,
    PRIMARY KEY (ambito_id, cooperative_id, month, version)
);
CREATE TRIGGER statement_versions_append_only BEFORE UPDATE OR DELETE ON statement_versions
    FOR EACH ROW EXECUTE FUNCTION interventions_append_only();
CREATE TRIGGER statements_never_deleted BEFORE DELETE ON statements
    FOR EACH ROW EXECUTE FUNCTION interventions_append_only();

-- +goose Down
DROP TABLE statement_versions, statements;
