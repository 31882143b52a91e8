package identity_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/auth/authtest"
	"github.com/csi-lombardia/csi/pkg/openapitest"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
	"github.com/csi-lombardia/csi/services/identity"
)

// contractClient checks every answer the tests receive against the OpenAPI document.
func contractClient(t *testing.T, c *http.Client) *http.Client {
	return openapitest.Load(t, identity.OpenAPI()).Client(t, c)
}

// TestContractSweep sends bad input of every kind to every operation of the contract
// (openapitest.Sweep): each answer must be a documented 4xx problem and nothing may be written.
func TestContractSweep(t *testing.T) {
	s := newSuite(t)
	educator := s.createOperator(s.admin, s.coopA.ID, auth.RoleEducator, false)
	var acc identity.Accreditation
	s.must(201, s.do("POST", "/v1/accreditations", s.admin, map[string]any{"cooperative_id": s.coopA.ID, "service_type": "SAD",
		"valid_from": "2025-01-01", "hourly_tariff_cents": 2300}, &acc))
	// A second accreditation, so that the list has a next page with limit=1.
	s.must(201, s.do("POST", "/v1/accreditations", s.admin, map[string]any{"cooperative_id": s.coopA.ID, "service_type": "ADM",
		"valid_from": "2025-01-01", "hourly_tariff_cents": 2500}, nil))
	var cl identity.ClientWithSecret
	s.must(201, s.do("POST", "/v1/clients", s.admin, map[string]any{"name": "Reporting", "scopes": []string{"events:read"}}, &cl))
	var ctr identity.TokenResponse
	s.must(200, s.do("POST", "/v1/oauth/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {cl.ID.String()},
		"client_secret": {cl.Secret}}, &ctr))

	// Who may call each operation (the role matrix, TestRoleMatrix): a role, "client" for the
	// machine client, "" for the open operations.
	const admin, client = string(auth.RoleAmbitoAdmin), "client"
	callers := map[string]string{
		"issueToken": "", "getJWKS": "", "getHealth": "", "getReadiness": "", "getMetrics": "", "getOpenAPI": "",
		"revokeToken": admin, "getMe": admin, "setOwnPassword": admin, "listAmbiti": admin, "getAmbito": admin,
		"createOrganization": admin, "listOrganizations": admin, "getOrganization": admin, "updateOrganization": admin,
		"createOperator": admin, "listOperators": admin, "importOperators": admin, "getOperator": admin,
		"updateOperator": admin, "addProfile": admin, "endProfile": admin, "setOperatorPassword": admin,
		"createAccreditation": admin, "listAccreditations": admin, "getAccreditation": admin, "updateAccreditation": admin,
		"createClient": admin, "listClients": admin, "disableClient": admin, "rotateClientSecret": admin,
		"listEvents": client, "listAuditRecords": string(auth.RolePrivacyOfficer), "verifyAuditTrail": string(auth.RolePrivacyOfficer),
	}
	contract := openapitest.Load(t, identity.OpenAPI())
	for _, op := range contract.Operations() {
		if _, ok := callers[op.OperationID]; !ok {
			t.Errorf("the sweep does not know who may call %s: add it to callers", op)
		}
	}
	key, err := s.keys.Current()
	if err != nil {
		t.Fatal(err)
	}
	sign := func(c auth.Claims, now time.Time) string {
		tok, err := auth.Sign(key.Private, key.KID, s.cfg.Issuer, c, 15*time.Minute, now)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// stranger is an operator of the role in another ambito.
	stranger := func(role auth.Role) auth.Claims {
		return auth.Claims{Subject: uuid.NewString(), Kind: auth.KindOperator, AmbitoID: uuid.NewString(), OrgID: uuid.NewString(),
			OrgKind: "azienda", Role: role, ProfileID: uuid.NewString()}
	}
	otherKey := authtest.New(t).Token(t, stranger(auth.RoleAmbitoAdmin))
	// admin is the ambito administrator of the suite's ambito, as its real token says: only the
	// time claims make the tokens minted from it bad.
	adminClaims, err := auth.NewVerifier(s.keys, s.cfg.Issuer).Verify(t.Context(), s.admin)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	contract.Sweep(t, openapitest.SweepConfig{
		BaseURL: s.srv.URL,
		Client:  s.srv.Client(),
		Token: func(op openapitest.Operation) string {
			switch who := callers[op.OperationID]; who {
			case "":
				return ""
			case client:
				return ctr.AccessToken
			default:
				return s.tokens[auth.Role(who)]
			}
		},
		OtherTenant: func(op openapitest.Operation) string {
			switch who := callers[op.OperationID]; who {
			case "":
				return ""
			case client:
				return sign(auth.Claims{Subject: uuid.NewString(), Kind: auth.KindClient, AmbitoID: uuid.NewString(),
					Role: auth.RoleClient, Scopes: []string{"events:read"}}, time.Now())
			default:
				return sign(stranger(auth.Role(who)), time.Now())
			}
		},
		BadTokens: func() map[string]string {
			bad := map[string]string{
				"expired":                 sign(stranger(auth.RoleAmbitoAdmin), time.Now().Add(-time.Hour)),
				"signed with another key": otherKey,
			}
			for name, tt := range authtest.BeyondLeeway(time.Now(), auth.DefaultLeeway) {
				tok, err := auth.SignTimes(key.Private, key.KID, s.cfg.Issuer, adminClaims, tt)
				if err != nil {
					t.Fatal(err)
				}
				bad[name] = tok
			}
			return bad
		},
		PathParams: func(op openapitest.Operation) map[string]string {
			switch op.OperationID {
			case "getAmbito":
				return map[string]string{"id": s.ambito.ID.String()}
			case "getOrganization", "updateOrganization":
				return map[string]string{"id": s.ats.ID.String()}
			case "getAccreditation", "updateAccreditation":
				return map[string]string{"id": acc.ID.String()}
			case "disableClient", "rotateClientSecret":
				return map[string]string{"id": cl.ID.String()}
			}
			return map[string]string{"id": educator.ID.String(), "profile_id": educator.Profiles[0].ID.String()}
		},
		Rows: func(tb testing.TB) map[string]int64 { return pgtest.RowCounts(tb, s.app.Pool) },
	})
	t.Logf("sweep took %s", time.Since(start).Round(time.Millisecond))
}
