// Package postgres is the identity Store on PostgreSQL (pgx v5).
package postgres

import (
	"context"
	"crypto/ed25519"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgstore"
	"github.com/csi-lombardia/csi/services/identity"
)

// Store implements identity.Store.
type Store struct{ pgstore.Store[identity.Store] }

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pgstore.New(pool, wrap)} }

// wrap is the store of a transaction (pgstore.Store.InTx); that it compiles proves *Store
// implements identity.Store.
func wrap(s pgstore.Store[identity.Store]) identity.Store { return &Store{s} }

// ---- ambiti ----

func (s *Store) CreateAmbito(ctx context.Context, a identity.Ambito) error {
	_, err := s.DB.Exec(ctx, `INSERT INTO ambiti (id, code, name, created_at) VALUES ($1, $2, $3, $4)`, a.ID, a.Code, a.Name, a.CreatedAt)
	return pgdb.Translate(err)
}

func (s *Store) GetAmbito(ctx context.Context, id uuid.UUID) (identity.Ambito, error) {
	var a identity.Ambito
	err := s.DB.QueryRow(ctx, `SELECT id, code, name, created_at FROM ambiti WHERE id = $1`, id).Scan(&a.ID, &a.Code, &a.Name, &a.CreatedAt)
	return a, pgdb.NotFound(err, "ambito")
}

func (s *Store) AmbitoByCode(ctx context.Context, code string) (identity.Ambito, error) {
	var a identity.Ambito
	err := s.DB.QueryRow(ctx, `SELECT id, code, name, created_at FROM ambiti WHERE code = $1`, code).Scan(&a.ID, &a.Code, &a.Name, &a.CreatedAt)
	return a, pgdb.NotFound(err, "ambito")
}

func (s *Store) ListAmbiti(ctx context.Context) ([]identity.Ambito, error) {
	rows, err := s.DB.Query(ctx, `SELECT id, code, name, created_at FROM ambiti ORDER BY code`)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, a *identity.Ambito) error { return r.Scan(&a.ID, &a.Code, &a.Name, &a.CreatedAt) })
}

// ---- organizations ----

const orgCols = `id, ambito_id, kind, name, coalesce(istat_code, ''), coalesce(tax_code, ''), coalesce(email, ''), active, version, created_at, updated_at`

func scanOrg(r pgx.Row, o *identity.Organization) error {
	return r.Scan(&o.ID, &o.AmbitoID, &o.Kind, &o.Name, &o.ISTATCode, &o.TaxCode, &o.Email, &o.Active, &o.Version, &o.CreatedAt, &o.UpdatedAt)
}

func (s *Store) CreateOrganization(ctx context.Context, o identity.Organization) error {
	_, err := s.DB.Exec(ctx, `INSERT INTO organizations (id, ambito_id, kind, name, istat_code, tax_code, email, active, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		o.ID, o.AmbitoID, o.Kind, o.Name, pgdb.Nullable(o.ISTATCode), pgdb.Nullable(o.TaxCode), pgdb.Nullable(o.Email), o.Active, o.Version, o.CreatedAt, o.UpdatedAt)
	return pgdb.Translate(err)
}

func (s *Store) GetOrganization(ctx context.Context, ambitoID, id uuid.UUID) (identity.Organization, error) {
	var o identity.Organization
	err := scanOrg(s.DB.QueryRow(ctx, `SELECT `+orgCols+` FROM organizations WHERE ambito_id = $1 AND id = $2`, ambitoID, id), &o)
	return o, pgdb.NotFound(err, "organization")
}

func (s *Store) UpdateOrganization(ctx context.Context, o identity.Organization, expected int64) (identity.Organization, error) {
	var out identity.Organization
	err := scanOrg(s.DB.QueryRow(ctx, `UPDATE organizations SET name = $4, email = $5, active = $6, version = version + 1, updated_at = now()
		WHERE ambito_id = $1 AND id = $2 AND version = $3 RETURNING `+orgCols,
		o.AmbitoID, o.ID, expected, o.Name, pgdb.Nullable(o.Email), o.Active), &out)
	if err != nil {
		return out, s.Versioned(ctx, err, "organizations", o.ID, "organization")
	}
	return out, nil
}

func (s *Store) ListOrganizations(ctx context.Context, ambitoID uuid.UUID, kind identity.OrgKind, limit int, after string) ([]identity.Organization, error) {
	var afterID *uuid.UUID
	if after != "" {
		id, err := uuid.Parse(after)
		if err != nil {
			return nil, errs.InvalidField("cursor", "is not a cursor returned by this list")
		}
		afterID = &id
	}
	rows, err := s.DB.Query(ctx, `SELECT `+orgCols+` FROM organizations
		WHERE ambito_id = $1 AND ($2 = '' OR kind = $2) AND ($3::uuid IS NULL OR id > $3)
		ORDER BY id LIMIT $4`, ambitoID, string(kind), afterID, limit)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, o *identity.Organization) error { return scanOrg(r, o) })
}

// ---- operators ----

const opCols = `o.id, o.ambito_id, o.fiscal_code, o.given_name, o.family_name, o.email, coalesce(o.phone, ''), o.status,
	coalesce(o.password_hash, ''), o.version, o.created_at, o.updated_at,
	coalesce((SELECT json_agg(json_build_object('id', p.id, 'organization_id', p.organization_id, 'organization_name', g.name,
		'organization_kind', g.kind, 'organization_istat_code', g.istat_code, 'role', p.role, 'valid_from', p.valid_from, 'valid_to', p.valid_to) ORDER BY p.valid_from, p.id)
		FROM profiles p JOIN organizations g ON g.id = p.organization_id WHERE p.operator_id = o.id), '[]')`

func scanOp(r pgx.Row, o *identity.Operator) error {
	var hash string
	err := r.Scan(&o.ID, &o.AmbitoID, &o.FiscalCode, &o.GivenName, &o.FamilyName, &o.Email, &o.Phone, &o.Status,
		&hash, &o.Version, &o.CreatedAt, &o.UpdatedAt, &o.Profiles)
	if err == nil {
		identity.SetPasswordHash(o, hash)
	}
	return err
}

func (s *Store) CreateOperator(ctx context.Context, o identity.Operator) error {
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO operators (id, ambito_id, fiscal_code, given_name, family_name, email, phone, status, password_hash,
		password_set_at, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $9::text IS NULL THEN NULL ELSE now() END, $10, $11, $12)`,
		o.ID, o.AmbitoID, o.FiscalCode, o.GivenName, o.FamilyName, o.Email, pgdb.Nullable(o.Phone), o.Status,
		pgdb.Nullable(identity.PasswordHash(o)), o.Version, o.CreatedAt, o.UpdatedAt)
	for _, p := range o.Profiles {
		b.Queue(`INSERT INTO profiles (id, operator_id, organization_id, role, valid_from, valid_to) VALUES ($1, $2, $3, $4, $5, $6)`,
			p.ID, o.ID, p.OrganizationID, p.Role, p.ValidFrom, p.ValidTo)
	}
	return pgdb.Translate(s.DB.SendBatch(ctx, b).Close())
}

func (s *Store) GetOperator(ctx context.Context, ambitoID, id uuid.UUID) (identity.Operator, error) {
	var o identity.Operator
	err := scanOp(s.DB.QueryRow(ctx, `SELECT `+opCols+` FROM operators o WHERE o.ambito_id = $1 AND o.id = $2`, ambitoID, id), &o)
	return o, pgdb.NotFound(err, "operator")
}

func (s *Store) OperatorForSignIn(ctx context.Context, id uuid.UUID) (identity.Operator, error) {
	var o identity.Operator
	err := scanOp(s.DB.QueryRow(ctx, `SELECT `+opCols+` FROM operators o WHERE o.id = $1`, id), &o)
	return o, pgdb.NotFound(err, "operator")
}

func (s *Store) OperatorByEmail(ctx context.Context, email string) (identity.Operator, error) {
	var o identity.Operator
	err := scanOp(s.DB.QueryRow(ctx, `SELECT `+opCols+` FROM operators o WHERE lower(o.email) = lower($1)`, email), &o)
	return o, pgdb.NotFound(err, "operator")
}

func (s *Store) UpdateOperator(ctx context.Context, o identity.Operator, expected int64) (identity.Operator, error) {
	var id uuid.UUID
	err := s.DB.QueryRow(ctx, `UPDATE operators SET given_name = $4, family_name = $5, email = $6, phone = $7, status = $8,
		version = version + 1, updated_at = now() WHERE ambito_id = $1 AND id = $2 AND version = $3 RETURNING id`,
		o.AmbitoID, o.ID, expected, o.GivenName, o.FamilyName, o.Email, pgdb.Nullable(o.Phone), o.Status).Scan(&id)
	if err != nil {
		return identity.Operator{}, s.Versioned(ctx, err, "operators", o.ID, "operator")
	}
	return s.GetOperator(ctx, o.AmbitoID, o.ID)
}

func (s *Store) SetPassword(ctx context.Context, operatorID uuid.UUID, hash string) error {
	_, err := s.DB.Exec(ctx, `UPDATE operators SET password_hash = $2, password_set_at = now(), updated_at = now() WHERE id = $1`, operatorID, hash)
	return pgdb.Translate(err)
}

func (s *Store) ListOperators(ctx context.Context, f identity.OperatorFilter) ([]identity.Operator, error) {
	var af, ag *string
	var aid *uuid.UUID
	if f.After != nil {
		af, ag, aid = &f.After.FamilyName, &f.After.GivenName, &f.After.ID
	}
	rows, err := s.DB.Query(ctx, `SELECT `+opCols+` FROM operators o
		WHERE o.ambito_id = $1
		  AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM profiles p WHERE p.operator_id = o.id AND p.organization_id = $2))
		  AND (NOT $8 OR NOT EXISTS (SELECT 1 FROM profiles p WHERE p.operator_id = o.id AND p.organization_id <> $2))
		  AND ($3 = '' OR lower(o.family_name) LIKE lower($3) || '%' OR lower(o.given_name) LIKE lower($3) || '%' OR lower(o.email) LIKE lower($3) || '%')
		  AND ($4::text IS NULL OR (o.family_name, o.given_name, o.id) > ($4, $5, $6))
		ORDER BY o.family_name, o.given_name, o.id LIMIT $7`,
		f.AmbitoID, f.OrganizationID, escapeLike(f.Query), af, ag, aid, f.Limit, f.OnlyThere)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, o *identity.Operator) error { return scanOp(r, o) })
}

func escapeLike(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '%' || r == '_' || r == '\\' {
			out = append(out, '\\')
		}
		out = append(out, r)
	}
	return string(out)
}

func (s *Store) AddProfile(ctx context.Context, operatorID uuid.UUID, p identity.Profile) error {
	_, err := s.DB.Exec(ctx, `INSERT INTO profiles (id, operator_id, organization_id, role, valid_from, valid_to) VALUES ($1, $2, $3, $4, $5, $6)`,
		p.ID, operatorID, p.OrganizationID, p.Role, p.ValidFrom, p.ValidTo)
	return pgdb.Translate(err)
}

func (s *Store) EndProfile(ctx context.Context, operatorID, profileID uuid.UUID, day identity.Date) error {
	tag, err := s.DB.Exec(ctx, `UPDATE profiles SET valid_to = GREATEST(valid_from - 1, $3::date - 1)
		WHERE id = $1 AND operator_id = $2 AND (valid_to IS NULL OR valid_to >= $3::date)`, profileID, operatorID, day)
	if err != nil {
		return pgdb.Translate(err)
	}
	if tag.RowsAffected() == 0 {
		return errs.E(errs.NotFound, "no active profile with that id")
	}
	return nil
}

// ---- accreditations ----

const accCols = `a.id, a.ambito_id, a.cooperative_id, g.name, a.service_type, a.valid_from::text, a.valid_to::text, a.hourly_tariff_cents, a.version, a.created_at, a.updated_at`

func scanAcc(r pgx.Row, a *identity.Accreditation) error {
	return r.Scan(&a.ID, &a.AmbitoID, &a.CooperativeID, &a.CooperativeName, &a.ServiceType, &a.ValidFrom, &a.ValidTo,
		&a.HourlyTariffCents, &a.Version, &a.CreatedAt, &a.UpdatedAt)
}

func (s *Store) CreateAccreditation(ctx context.Context, a identity.Accreditation) error {
	_, err := s.DB.Exec(ctx, `INSERT INTO accreditations (id, ambito_id, cooperative_id, service_type, valid_from, valid_to, hourly_tariff_cents, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		a.ID, a.AmbitoID, a.CooperativeID, a.ServiceType, a.ValidFrom, a.ValidTo, a.HourlyTariffCents, a.Version, a.CreatedAt, a.UpdatedAt)
	return pgdb.Translate(err)
}

func (s *Store) GetAccreditation(ctx context.Context, ambitoID, id uuid.UUID) (identity.Accreditation, error) {
	var a identity.Accreditation
	err := scanAcc(s.DB.QueryRow(ctx, `SELECT `+accCols+` FROM accreditations a JOIN organizations g ON g.id = a.cooperative_id
		WHERE a.ambito_id = $1 AND a.id = $2`, ambitoID, id), &a)
	return a, pgdb.NotFound(err, "accreditation")
}

func (s *Store) UpdateAccreditation(ctx context.Context, a identity.Accreditation, expected int64) (identity.Accreditation, error) {
	var id uuid.UUID
	err := s.DB.QueryRow(ctx, `UPDATE accreditations SET valid_to = $4, hourly_tariff_cents = $5, version = version + 1, updated_at = now()
		WHERE ambito_id = $1 AND id = $2 AND version = $3 RETURNING id`, a.AmbitoID, a.ID, expected, a.ValidTo, a.HourlyTariffCents).Scan(&id)
	if err != nil {
		return identity.Accreditation{}, s.Versioned(ctx, err, "accreditations", a.ID, "accreditation")
	}
	return s.GetAccreditation(ctx, a.AmbitoID, a.ID)
}

func (s *Store) ListAccreditations(ctx context.Context, ambitoID uuid.UUID, coopID *uuid.UUID, st identity.ServiceType, on identity.Date, limit int, after string) ([]identity.Accreditation, error) {
	var afterID *uuid.UUID
	if after != "" {
		id, err := uuid.Parse(after)
		if err != nil {
			return nil, errs.InvalidField("cursor", "is not a cursor returned by this list")
		}
		afterID = &id
	}
	var onDate *string
	if on != "" {
		onDate = &on
	}
	rows, err := s.DB.Query(ctx, `SELECT `+accCols+` FROM accreditations a JOIN organizations g ON g.id = a.cooperative_id
		WHERE a.ambito_id = $1 AND ($2::uuid IS NULL OR a.cooperative_id = $2) AND ($3 = '' OR a.service_type = $3)
		  AND ($4::date IS NULL OR (a.valid_from <= $4::date AND (a.valid_to IS NULL OR a.valid_to >= $4::date)))
		  AND ($5::uuid IS NULL OR a.id > $5)
		ORDER BY a.id LIMIT $6`, ambitoID, coopID, string(st), onDate, afterID, limit)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, a *identity.Accreditation) error { return scanAcc(r, a) })
}

// ---- clients ----

const clientCols = `id, ambito_id, organization_id, name, scopes, secret_hash, active, created_at`

func scanClient(r pgx.Row, c *identity.Client) error {
	var hash []byte
	err := r.Scan(&c.ID, &c.AmbitoID, &c.OrganizationID, &c.Name, &c.Scopes, &hash, &c.Active, &c.CreatedAt)
	identity.SetSecretHash(c, hash)
	return err
}

func (s *Store) CreateClient(ctx context.Context, c identity.Client) error {
	_, err := s.DB.Exec(ctx, `INSERT INTO clients (id, ambito_id, organization_id, name, scopes, secret_hash, active, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, c.ID, c.AmbitoID, c.OrganizationID, c.Name, c.Scopes, identity.SecretHash(c), c.Active, c.CreatedAt)
	return pgdb.Translate(err)
}

func (s *Store) GetClient(ctx context.Context, id uuid.UUID) (identity.Client, error) {
	var c identity.Client
	err := scanClient(s.DB.QueryRow(ctx, `SELECT `+clientCols+` FROM clients WHERE id = $1`, id), &c)
	return c, pgdb.NotFound(err, "client")
}

func (s *Store) ListClients(ctx context.Context, ambitoID uuid.UUID) ([]identity.Client, error) {
	rows, err := s.DB.Query(ctx, `SELECT `+clientCols+` FROM clients WHERE ambito_id = $1 ORDER BY name, id`, ambitoID)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, c *identity.Client) error { return scanClient(r, c) })
}

func (s *Store) UpdateClientSecret(ctx context.Context, id uuid.UUID, hash []byte) error {
	_, err := s.DB.Exec(ctx, `UPDATE clients SET secret_hash = $2, updated_at = now() WHERE id = $1`, id, hash)
	return pgdb.Translate(err)
}

func (s *Store) SetClientActive(ctx context.Context, id uuid.UUID, active bool) error {
	_, err := s.DB.Exec(ctx, `UPDATE clients SET active = $2, updated_at = now() WHERE id = $1`, id, active)
	return pgdb.Translate(err)
}

// ---- refresh tokens ----

func (s *Store) SaveRefreshToken(ctx context.Context, t identity.RefreshToken) error {
	_, err := s.DB.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, family_id, operator_id, profile_id, issued_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, t.Hash, t.FamilyID, t.OperatorID, t.ProfileID, t.IssuedAt, t.ExpiresAt)
	return pgdb.Translate(err)
}

func (s *Store) UseRefreshToken(ctx context.Context, hash []byte, now time.Time) (identity.RefreshToken, error) {
	var t identity.RefreshToken
	// Lock the row: two concurrent uses of one token must not both succeed.
	err := s.DB.QueryRow(ctx, `SELECT token_hash, family_id, operator_id, profile_id, issued_at, expires_at, used_at, revoked_at
		FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`, hash).
		Scan(&t.Hash, &t.FamilyID, &t.OperatorID, &t.ProfileID, &t.IssuedAt, &t.ExpiresAt, &t.UsedAt, &t.RevokedAt)
	if err != nil {
		return t, pgdb.NotFound(err, "refresh token")
	}
	if t.UsedAt == nil {
		if _, err := s.DB.Exec(ctx, `UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1`, hash, now); err != nil {
			return t, pgdb.Translate(err)
		}
	}
	return t, nil
}

func (s *Store) RevokeFamily(ctx context.Context, familyID uuid.UUID, now time.Time) error {
	_, err := s.DB.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL`, familyID, now)
	return pgdb.Translate(err)
}

func (s *Store) RevokeOperatorTokens(ctx context.Context, operatorID uuid.UUID, now time.Time) error {
	_, err := s.DB.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE operator_id = $1 AND revoked_at IS NULL`, operatorID, now)
	return pgdb.Translate(err)
}

// ---- sign-in failures ----

func (s *Store) SignInFailures(ctx context.Context, username string) (int, *time.Time, error) {
	var n int
	var until *time.Time
	err := s.DB.QueryRow(ctx, `SELECT failures, locked_until FROM sign_in_failures WHERE username = $1`, username).Scan(&n, &until)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, nil
	}
	return n, until, pgdb.Translate(err)
}

func (s *Store) RecordSignInFailure(ctx context.Context, username string, now time.Time, lockedUntil *time.Time) (int, error) {
	var n int
	err := s.DB.QueryRow(ctx, `INSERT INTO sign_in_failures (username, failures, last_failure, locked_until) VALUES ($1, 1, $2, $3)
		ON CONFLICT (username) DO UPDATE SET failures = sign_in_failures.failures + 1, last_failure = $2,
			locked_until = COALESCE($3, sign_in_failures.locked_until)
		RETURNING failures`, username, now, lockedUntil).Scan(&n)
	return n, pgdb.Translate(err)
}

func (s *Store) ClearSignInFailures(ctx context.Context, username string) error {
	_, err := s.DB.Exec(ctx, `DELETE FROM sign_in_failures WHERE username = $1`, username)
	return pgdb.Translate(err)
}

// ---- signing keys ----

func (s *Store) SaveSigningKey(ctx context.Context, kid string, public ed25519.PublicKey, sealed []byte, createdAt time.Time) error {
	_, err := s.DB.Exec(ctx, `INSERT INTO signing_keys (kid, public_key, sealed_private_key, created_at) VALUES ($1, $2, $3, $4)`,
		kid, []byte(public), sealed, createdAt)
	return pgdb.Translate(err)
}

func (s *Store) SigningKeys(ctx context.Context) ([]identity.StoredKey, error) {
	rows, err := s.DB.Query(ctx, `SELECT kid, public_key, sealed_private_key, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, kid DESC`)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, k *identity.StoredKey) error {
		var pub []byte
		err := r.Scan(&k.KID, &pub, &k.SealedPrivate, &k.CreatedAt, &k.RetiredAt)
		k.Public = ed25519.PublicKey(pub)
		return err
	})
}

func (s *Store) RetireSigningKeys(ctx context.Context, exceptKID string, now time.Time) error {
	_, err := s.DB.Exec(ctx, `UPDATE signing_keys SET retired_at = $2 WHERE kid <> $1 AND retired_at IS NULL`, exceptKID, now)
	return pgdb.Translate(err)
}

func (s *Store) DeleteSigningKeysRetiredBefore(ctx context.Context, t time.Time) error {
	_, err := s.DB.Exec(ctx, `DELETE FROM signing_keys WHERE retired_at < $1`, t)
	return pgdb.Translate(err)
}

// keyRotationLock is the advisory lock id of key rotation ("csikeys").
const keyRotationLock = 0x637369_6b657973

func (s *Store) LockKeyRotation(ctx context.Context) error {
	if !s.InTransaction() {
		return errs.E(errs.Internal, "LockKeyRotation needs a transaction")
	}
	_, err := s.DB.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(keyRotationLock))
	return pgdb.Translate(err)
}
