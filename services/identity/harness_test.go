package identity_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/auth/authtest"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/services/identity/postgres"
)

// password is the demo password every test operator gets: it passes the policy.
const password = "Quattro-Stagioni-77"

// suite is a running identity service (servicetest, through a pgtest.Proxy) with a bootstrapped
// ambito, an organization of every kind and an operator of every role. Its tokens are real:
// Tokens are the operators' sign-ins, Clients the client credentials grants of real clients,
// and Iss signs with the service's own key.
type suite struct {
	*servicetest.Suite
	svc                                        *identity.Service
	ambito                                     identity.Ambito
	azienda, comune, coopA, coopB, ats, region identity.Organization
	users                                      map[auth.Role]string // role -> e-mail
	admin                                      string               // the ambito administrator's token
}

type option func(*identity.Config)

// newSuite starts the service through identity.Mount, as main does, bootstrapping the ambito.
func newSuite(t *testing.T, opts ...option) *suite {
	t.Helper()
	cfg := identity.DefaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	admin, adminEmail := person()
	s := &suite{users: map[auth.Role]string{auth.RoleAmbitoAdmin: adminEmail}}
	s.Suite = servicetest.New(t, servicetest.Config{Service: "identity", Sets: []pgdb.MigrationSet{postgres.Migrations},
		OpenAPI: identity.OpenAPI(), Proxy: true, Clients: clientScopes,
		Mount: func(ctx context.Context, a *app.App, _ *authtest.Issuer) (http.Handler, error) {
			svc, h, err := identity.Mount(ctx, a, identity.Parts{Store: postgres.New(a.Pool), Places: places.Default(), Config: cfg,
				MasterKey: master, KeyRotation: 24 * time.Hour, Bootstrap: identity.Bootstrap{AmbitoCode: "test-" + uuid.NewString()[:8],
					AmbitoName: "Ambito Test", AdminEmail: adminEmail, AdminPassword: password, AdminFiscalCode: admin.FiscalCode,
					AdminGivenName: admin.GivenName, AdminFamilyName: admin.FamilyName}})
			s.svc = svc
			return h, err
		}})
	key, err := s.svc.Keys().Current()
	if err != nil {
		t.Fatal(err)
	}
	s.Iss = authtest.FromKey(t, cfg.Issuer, key.KID, key.Private)
	s.populate()
	return s
}

// populate signs the administrator in, creates an organization of every kind and an operator
// of every role (each held in its organization: servicetest's OrgOf) and the machine clients,
// and signs them all in.
func (s *suite) populate() {
	s.admin = s.token(s.users[auth.RoleAmbitoAdmin], password, "")
	var me identity.Operator
	s.Must(200, s.Do("GET", "/v1/me", s.admin, nil, &me))
	var ambiti cursor.Page[identity.Ambito]
	s.Must(200, s.Do("GET", "/v1/ambiti", s.admin, nil, &ambiti))
	s.ambito = ambiti.Items[0]
	s.Must(200, s.Do("GET", "/v1/organizations/"+me.Profiles[0].OrganizationID.String(), s.admin, nil, &s.azienda))
	s.comune = s.createOrg(map[string]any{"kind": "comune", "name": "Comune di Milano", "istat_code": servicetest.Milano})
	s.coopA = s.createOrg(map[string]any{"kind": "cooperativa", "name": "Cooperativa Alfa", "tax_code": "00743110157"})
	s.coopB = s.createOrg(map[string]any{"kind": "cooperativa", "name": "Cooperativa Beta", "tax_code": "02876990587"})
	s.ats = s.createOrg(map[string]any{"kind": "ats", "name": "ATS Città Metropolitana"})
	s.region = s.createOrg(map[string]any{"kind": "region", "name": "Regione Lombardia"})
	s.Ambito, s.Azienda, s.Comune, s.Coop, s.ATS, s.Region = s.ambito.ID, s.azienda.ID, s.comune.ID, s.coopA.ID, s.ats.ID, s.region.ID
	s.Tokens[auth.RoleAmbitoAdmin] = s.admin
	for _, role := range auth.Roles[1:] {
		org, _, _ := s.OrgOf(role)
		op := s.createOperator(s.admin, org, role, true)
		s.users[role], s.Tokens[role] = op.Email, s.token(op.Email, password, "")
	}
	for name, scopes := range s.ClientScopes {
		var cl identity.ClientWithSecret
		s.Must(201, s.Do("POST", "/v1/clients", s.admin, map[string]any{"name": name, "scopes": scopes}, &cl))
		var tr identity.TokenResponse
		s.Must(200, s.Do("POST", "/v1/oauth/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {cl.ID.String()},
			"client_secret": {cl.Secret}}, &tr))
		s.Clients[name] = tr.AccessToken
	}
}

var seq atomic.Int64

// person returns a new person (servicetest.PersonN) and a new e-mail.
func person() (servicetest.Person, string) {
	n := seq.Add(1)
	return servicetest.PersonN(n), fmt.Sprintf("op%d@test.csi.example", n)
}

// token signs an operator in (in profile, when given) and returns the access token.
func (s *suite) token(email, pw, profile string) string {
	s.T.Helper()
	var tr identity.TokenResponse
	form := url.Values{"grant_type": {"password"}, "username": {email}, "password": {pw}}
	if profile != "" {
		form.Set("profile_id", profile)
	}
	s.Must(200, s.Do("POST", "/v1/oauth/token", "", form, &tr))
	return tr.AccessToken
}

func (s *suite) createOrg(body map[string]any) identity.Organization {
	s.T.Helper()
	var o identity.Organization
	s.Must(201, s.Do("POST", "/v1/organizations", s.admin, body, &o))
	return o
}

// operatorBody is the create body of a new operator with role in org.
func (s *suite) operatorBody(org uuid.UUID, role auth.Role, withPassword bool) map[string]any {
	p, email := person()
	body := map[string]any{"fiscal_code": p.FiscalCode, "given_name": p.GivenName, "family_name": p.FamilyName, "email": email,
		"profiles": []map[string]any{{"organization_id": org, "role": role, "valid_from": "2024-01-01"}}}
	if withPassword {
		body["password"] = password
	}
	return body
}

func (s *suite) createOperator(token string, org uuid.UUID, role auth.Role, withPassword bool) identity.Operator {
	s.T.Helper()
	var op identity.Operator
	s.Must(201, s.Do("POST", "/v1/operators", token, s.operatorBody(org, role, withPassword), &op))
	return op
}
