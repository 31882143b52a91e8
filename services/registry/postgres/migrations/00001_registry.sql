-- +goose Up
-- pg_trgm and unaccent are trusted extensions (PostgreSQL 13+): the database owner may create them.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- unaccent() is STABLE (it depends on the search path and the dictionary), so it cannot feed a
-- generated column or an index. This wrapper names the dictionary explicitly and is declared
-- IMMUTABLE: the dictionary never changes under a running database.
-- +goose StatementBegin
CREATE FUNCTION registry_unaccent(text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$;
-- +goose StatementEnd

-- registry_normalize folds a name for search: no accents, lower case, every run of other
-- characters than letters and digits (apostrophes, hyphens, spaces) one space.
-- +goose StatementBegin
CREATE FUNCTION registry_normalize(text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$ SELECT btrim(regexp_replace(lower(registry_unaccent($1)), '[^a-z0-9]+', ' ', 'g')) $$;
-- +goose StatementEnd

-- registry_uuidv7 makes a UUIDv7 in SQL (set-based imports; PostgreSQL 15 has no uuidv7()).
-- +goose StatementBegin
CREATE FUNCTION registry_uuidv7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
  SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
    FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$$;
-- +goose StatementEnd

-- citizens: the columns are what queries filter, join and index on; data is the whole record
-- as the service writes it (jsonb), so that the many descriptive fields need no column each.
CREATE TABLE citizens (
    id                    uuid PRIMARY KEY,
    ambito_id             uuid NOT NULL,
    fiscal_code           text,
    fiscal_code_canonical text,
    family_name           text NOT NULL,
    given_name            text NOT NULL,
    name_norm             text GENERATED ALWAYS AS (registry_normalize(family_name || ' ' || given_name)) STORED,
    sex                   text NOT NULL CHECK (sex IN ('M', 'F')),
    birth_date            date NOT NULL,
    birth_belfiore        text,
    residence_istat       text,
    status                text NOT NULL DEFAULT 'alive' CHECK (status IN ('alive', 'deceased', 'moved_away')),
    merged_into           uuid REFERENCES citizens (id),
    data                  jsonb NOT NULL,
    version               bigint NOT NULL DEFAULT 1,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CHECK (merged_into IS NULL OR merged_into <> id)
);
-- One live record per codice fiscale in an ambito; merged records keep theirs.
CREATE UNIQUE INDEX citizens_fiscal_code ON citizens (ambito_id, fiscal_code) WHERE merged_into IS NULL AND fiscal_code IS NOT NULL;
CREATE INDEX citizens_fiscal_code_canonical ON citizens (ambito_id, fiscal_code_canonical);
CREATE INDEX citizens_residence ON citizens (ambito_id, residence_istat, family_name, given_name, id);
CREATE INDEX citizens_birth_date ON citizens (ambito_id, birth_date);
CREATE INDEX citizens_name_trgm ON citizens USING gin (name_norm gin_trgm_ops);

-- The codici fiscali a citizen has had: corrections, omocodic replacements, a provisional code
-- replaced by the real one. The current one has replaced_at NULL.
CREATE TABLE citizen_fiscal_codes (
    citizen_id  uuid NOT NULL REFERENCES citizens (id),
    fiscal_code text NOT NULL,
    reason      text NOT NULL,
    assigned_at timestamptz NOT NULL,
    replaced_at timestamptz
);
CREATE INDEX citizen_fiscal_codes_citizen ON citizen_fiscal_codes (citizen_id, assigned_at);
CREATE INDEX citizen_fiscal_codes_code ON citizen_fiscal_codes (fiscal_code);

-- Nuclei familiari. family_number is the population register's number, when known.
CREATE TABLE households (
    id              uuid PRIMARY KEY,
    ambito_id       uuid NOT NULL,
    residence_istat text NOT NULL DEFAULT '',
    family_number   text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX households_family_number ON households (ambito_id, residence_istat, family_number);

CREATE TABLE household_members (
    id           uuid PRIMARY KEY,
    household_id uuid NOT NULL REFERENCES households (id),
    citizen_id   uuid NOT NULL REFERENCES citizens (id),
    relationship text NOT NULL,
    valid_from   date NOT NULL,
    valid_to     date, -- the day the membership ended (exclusive); NULL while current
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
-- A citizen belongs to one household at a time.
CREATE UNIQUE INDEX household_members_current ON household_members (citizen_id) WHERE valid_to IS NULL;
CREATE INDEX household_members_household ON household_members (household_id);

-- Temporary: which comune (ISTAT code) an organization of identity is, maintained by the ambito
-- administrator until the registry reads identity's event feed.
CREATE TABLE comune_orgs (
    organization_id uuid PRIMARY KEY,
    ambito_id       uuid NOT NULL,
    istat_code      text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Import jobs of population-register extracts.
CREATE TABLE imports (
    id             uuid PRIMARY KEY,
    ambito_id      uuid NOT NULL,
    istat_code     text NOT NULL,
    status         text NOT NULL CHECK (status IN ('processing', 'completed', 'failed')),
    rows_total     bigint NOT NULL DEFAULT 0,
    rows_invalid   bigint NOT NULL DEFAULT 0,
    rows_processed bigint NOT NULL DEFAULT 0,
    created        bigint NOT NULL DEFAULT 0,
    updated        bigint NOT NULL DEFAULT 0,
    unchanged      bigint NOT NULL DEFAULT 0,
    households     bigint NOT NULL DEFAULT 0,
    failure        text,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz
);

CREATE TABLE import_errors (
    import_id uuid NOT NULL REFERENCES imports (id),
    line      bigint NOT NULL,
    field     text NOT NULL,
    message   text NOT NULL
);
CREATE INDEX import_errors_import ON import_errors (import_id, line);

-- Staging of the valid rows of an import, emptied when the import has been applied.
CREATE UNLOGGED TABLE import_rows (
    import_id        uuid NOT NULL,
    line             bigint NOT NULL,
    id               uuid NOT NULL,
    fiscal_code      text NOT NULL,
    canonical        text NOT NULL,
    family_name      text NOT NULL,
    given_name       text NOT NULL,
    sex              text NOT NULL,
    birth_date       date NOT NULL,
    birth_place      text NOT NULL,
    birth_place_name text NOT NULL,
    foreign_birth    boolean NOT NULL,
    citizenship      text NOT NULL,
    address          text NOT NULL,
    postal_code      text NOT NULL,
    family_number    text NOT NULL,
    relationship     text NOT NULL,
    PRIMARY KEY (import_id, line)
);

-- +goose Down
DROP TABLE import_rows;
DROP TABLE import_errors;
DROP TABLE imports;
DROP TABLE comune_orgs;
DROP TABLE household_members;
DROP TABLE households;
DROP TABLE citizen_fiscal_codes;
DROP TABLE citizens;
DROP FUNCTION registry_uuidv7();
DROP FUNCTION registry_normalize(text);
DROP FUNCTION registry_unaccent(text);
