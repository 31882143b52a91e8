-- The comune of an operator now comes from the token identity signs (claim istat): the
-- organization to comune map maintained by hand is gone.

-- +goose Up
DROP TABLE comune_orgs;

-- +goose Down
CREATE TABLE comune_orgs (
    organization_id uuid PRIMARY KEY,
    ambito_id       uuid NOT NULL,
    istat_code      text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
