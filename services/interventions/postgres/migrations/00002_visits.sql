-- +goose Up
-- A visit as a cooperative's operator made it: one row each, never deleted; a correction voids
-- the row (status voided, with reason) and stores its replacement (replaces = the voided one).
-- The columns are what the rules and the statement read; every row carries its ambito_id.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE visits (
    id               uuid PRIMARY KEY,
    ambito_id        uuid NOT NULL,
    authorization_id uuid NOT NULL REFERENCES authorizations (id),
    cooperative_id   uuid NOT NULL,
    service_type     text NOT NULL,
    citizen_id       uuid NOT NULL,
    operator_id      uuid NOT NULL,
    day              date NOT NULL,
    starts_at        timestamptz NOT NULL, -- day + start, Europe/Rome
    ends_at          timestamptz NOT NULL CHECK (ends_at > starts_at),
    minutes          integer NOT NULL CHECK (minutes > 0),
    absent           boolean NOT NULL,
    place            text NOT NULL CHECK (place IN ('home', 'school', 'community')),
    activities       text[] NOT NULL,
    notes            text NOT NULL,
    -- the minutes of this visit beyond the hours authorized (per week or in total): accepted, flagged
    excess_minutes   integer NOT NULL CHECK (excess_minutes >= 0 AND excess_minutes <= minutes),
    status           text NOT NULL CHECK (status IN ('valid', 'voided')),
    replaces         uuid REFERENCES visits (id),
    void_reason      text,
    voided_by        jsonb,
    voided_at        timestamptz,
    replaced_by      uuid, -- the visit that replaced this voided one (its replaces)
    recorded_by      jsonb NOT NULL,
    recorded_at      timestamptz NOT NULL,
    CHECK ((status = 'voided') = (voided_at IS NOT NULL)),
    -- no two valid visits of one operator overlap, whichever request wrote them
    EXCLUDE USING gist (operator_id WITH =, tstzrange(starts_at, ends_at) WITH &&) WHERE (status = 'valid')
);
-- the statement: a cooperative's month
CREATE INDEX visits_statement ON visits (ambito_id, cooperative_id, day)
    INCLUDE (authorization_id, service_type, minutes, absent, excess_minutes, status);
CREATE INDEX visits_authorization ON visits (authorization_id, day);
-- the lists of a cooperative's visits, newest first
CREATE INDEX visits_cooperative ON visits (cooperative_id, id DESC);

-- +goose Down
DROP TABLE visits;
