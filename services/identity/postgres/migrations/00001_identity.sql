-- +goose Up
CREATE TABLE ambiti (
    id          uuid PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE organizations (
    id           uuid PRIMARY KEY,
    ambito_id    uuid NOT NULL REFERENCES ambiti (id),
    kind         text NOT NULL CHECK (kind IN ('comune', 'azienda', 'cooperativa', 'ats', 'region')),
    name         text NOT NULL,
    istat_code   text,
    tax_code     text,
    email        text,
    active       boolean NOT NULL DEFAULT true,
    version      bigint NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'comune' OR istat_code IS NOT NULL),
    CHECK (kind <> 'cooperativa' OR tax_code IS NOT NULL)
);
CREATE UNIQUE INDEX organizations_istat ON organizations (ambito_id, istat_code) WHERE istat_code IS NOT NULL;
CREATE UNIQUE INDEX organizations_tax_code ON organizations (ambito_id, tax_code) WHERE tax_code IS NOT NULL;
CREATE INDEX organizations_ambito ON organizations (ambito_id, kind, name);

CREATE TABLE operators (
    id            uuid PRIMARY KEY,
    ambito_id     uuid NOT NULL REFERENCES ambiti (id),
    fiscal_code   text NOT NULL,
    given_name    text NOT NULL,
    family_name   text NOT NULL,
    email         text NOT NULL,
    phone         text,
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    password_hash text,
    password_set_at timestamptz,
    version       bigint NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- Sign-in is by e-mail across the deployment, so an e-mail names one operator.
CREATE UNIQUE INDEX operators_email ON operators (lower(email));
CREATE UNIQUE INDEX operators_fiscal_code ON operators (ambito_id, fiscal_code);
CREATE INDEX operators_ambito_name ON operators (ambito_id, family_name, given_name, id);

CREATE TABLE profiles (
    id              uuid PRIMARY KEY,
    operator_id     uuid NOT NULL REFERENCES operators (id),
    organization_id uuid NOT NULL REFERENCES organizations (id),
    role            text NOT NULL,
    valid_from      date NOT NULL,
    valid_to        date,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- valid_to = valid_from - 1: a profile cancelled before it started (kept, never active).
    CHECK (valid_to IS NULL OR valid_to >= valid_from - 1)
);
CREATE INDEX profiles_operator ON profiles (operator_id);
CREATE INDEX profiles_organization ON profiles (organization_id, operator_id);

CREATE TABLE accreditations (
    id             uuid PRIMARY KEY,
    ambito_id      uuid NOT NULL REFERENCES ambiti (id),
    cooperative_id uuid NOT NULL REFERENCES organizations (id),
    service_type   text NOT NULL,
    valid_from     date NOT NULL,
    valid_to       date,
    hourly_tariff_cents bigint NOT NULL CHECK (hourly_tariff_cents > 0),
    version        bigint NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE INDEX accreditations_lookup ON accreditations (ambito_id, cooperative_id, service_type, valid_from);

CREATE TABLE clients (
    id              uuid PRIMARY KEY,
    ambito_id       uuid REFERENCES ambiti (id),
    organization_id uuid REFERENCES organizations (id),
    name            text NOT NULL,
    scopes          text[] NOT NULL DEFAULT '{}',
    secret_hash     bytea NOT NULL,
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE refresh_tokens (
    token_hash   bytea PRIMARY KEY,
    family_id    uuid NOT NULL,
    operator_id  uuid NOT NULL REFERENCES operators (id),
    profile_id   uuid NOT NULL REFERENCES profiles (id),
    issued_at    timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

-- Failed sign-ins per normalized username, shared by every replica.
CREATE TABLE sign_in_failures (
    username     text PRIMARY KEY,
    failures     integer NOT NULL,
    last_failure timestamptz NOT NULL,
    locked_until timestamptz
);

-- Token signing keys: the private key sealed with the master key (AES-256-GCM).
CREATE TABLE signing_keys (
    kid          text PRIMARY KEY,
    public_key   bytea NOT NULL,
    sealed_private_key bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    retired_at   timestamptz
);

-- +goose Down
DROP TABLE signing_keys, sign_in_failures, refresh_tokens, clients, accreditations, profiles, operators, organizations, ambiti;
