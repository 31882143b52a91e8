package registry_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/auth/authtest"
	"github.com/csi-lombardia/csi/pkg/openapitest"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
	"github.com/csi-lombardia/csi/services/registry"
)

// contractClient checks every answer the tests receive against the OpenAPI document.
func contractClient(t *testing.T, c *http.Client) *http.Client {
	return openapitest.Load(t, registry.OpenAPI()).Client(t, c)
}

// TestContractSweep sends bad input of every kind to every operation of the contract
// (openapitest.Sweep): each answer must be a documented 4xx problem and nothing may be written.
func TestContractSweep(t *testing.T) {
	s := newSuite(t, options{})
	writer := s.clients["writer"]
	c := s.createCitizen(writer, citizenBody(t, milano))
	var im registry.Import
	s.must(202, s.do("POST", "/v1/imports?istat_code="+milano, s.tokens[auth.RoleAdministrative], registerCSV(t, 0, 3, ""), &im))
	s.waitImport(s.tokens[auth.RoleAdministrative], im.ID.String())
	for range 2 { // audit records of the citizen, for a trail of more than one page
		s.must(200, s.do("GET", "/v1/citizens/"+c.ID.String(), s.tokens[auth.RoleServiceManager], nil, nil))
	}

	// Who may call each operation (the role matrix, TestRoleMatrix): a role, or a machine
	// client by its scope set; "" for the open operations.
	callers := map[string]string{
		"searchMunicipalities": string(auth.RoleServiceManager), "createCitizen": string(auth.RoleServiceManager),
		"listCitizens": string(auth.RoleServiceManager), "searchCitizens": string(auth.RoleServiceManager),
		"mergeCitizen": string(auth.RoleServiceManager), "getCitizen": string(auth.RoleServiceManager),
		"updateCitizen": string(auth.RoleServiceManager), "getHousehold": string(auth.RoleServiceManager),
		"addHouseholdMember": string(auth.RoleServiceManager), "getPseudonym": "client:pseudonyms",
		"getCitizenAudit": string(auth.RolePrivacyOfficer), "verifyAuditTrail": string(auth.RolePrivacyOfficer), "startImport": string(auth.RoleAdministrative),
		"getImport": string(auth.RoleAdministrative), "listEvents": "client:events",
		"getHealth": "", "getReadiness": "", "getMetrics": "", "getOpenAPI": "",
	}
	contract := openapitest.Load(t, registry.OpenAPI())
	for _, op := range contract.Operations() {
		if _, ok := callers[op.OperationID]; !ok {
			t.Errorf("the sweep does not know who may call %s: add it to callers", op)
		}
	}
	scopes := map[string][]string{"pseudonyms": {registry.ScopePseudonymsRead}, "events": {"events:read"}}
	// claims returns the claims of the operation's caller in ambito.
	claims := func(op openapitest.Operation, ambito uuid.UUID) (auth.Claims, bool) {
		who := callers[op.OperationID]
		switch {
		case who == "":
			return auth.Claims{}, false
		case len(who) > 7 && who[:7] == "client:":
			return auth.Claims{Subject: uuid.NewString(), Kind: auth.KindClient, AmbitoID: ambito.String(),
				Role: auth.RoleClient, Scopes: scopes[who[7:]]}, true
		}
		org, kind, istat := uuid.NewString(), "azienda", ""
		if r := auth.Role(who); r == auth.RoleServiceManager || r == auth.RoleAdministrative {
			org, kind, istat = s.comune.String(), "comune", milano
		}
		return auth.Claims{Subject: uuid.NewString(), Kind: auth.KindOperator, AmbitoID: ambito.String(), OrgID: org,
			OrgKind: kind, ISTATCode: istat, Role: auth.Role(who), ProfileID: uuid.NewString()}, true
	}
	anyRole := auth.Claims{Subject: uuid.NewString(), Kind: auth.KindOperator, AmbitoID: s.ambito.String(), OrgID: s.comune.String(),
		OrgKind: "comune", ISTATCode: milano, Role: auth.RoleServiceManager, ProfileID: uuid.NewString()}
	otherKey := authtest.New(t).Token(t, anyRole)
	start := time.Now()
	contract.Sweep(t, openapitest.SweepConfig{
		BaseURL: s.srv.URL,
		Client:  s.srv.Client(),
		Token: func(op openapitest.Operation) string {
			if c, ok := claims(op, s.ambito); ok {
				return s.iss.Token(t, c)
			}
			return ""
		},
		OtherTenant: func(op openapitest.Operation) string {
			if c, ok := claims(op, uuid.Must(uuid.NewV7())); ok {
				return s.iss.Token(t, c)
			}
			return ""
		},
		BadTokens: func() map[string]string {
			bad := map[string]string{
				"expired":                 s.iss.TokenAt(t, anyRole, time.Now().Add(-time.Hour), 15*time.Minute),
				"signed with another key": otherKey,
			}
			for name, tt := range authtest.BeyondLeeway(time.Now(), auth.DefaultLeeway) {
				bad[name] = s.iss.TokenTimes(t, anyRole, tt)
			}
			return bad
		},
		PathParams: func(op openapitest.Operation) map[string]string {
			switch op.OperationID {
			case "getImport":
				return map[string]string{"id": im.ID.String()}
			}
			return map[string]string{"id": c.ID.String(), "purpose": "reporting"}
		},
		// Criteria that find more than one fixture: the imported residents of Milan were all born
		// on 1930-01-01 (personN).
		ListCriteria: func(op openapitest.Operation) map[string]any {
			switch op.OperationID {
			case "listCitizens":
				return map[string]any{"residence_istat": milano}
			case "searchCitizens":
				return map[string]any{"birth_date": "1930-01-01"}
			}
			return nil
		},
		Rows: func(tb testing.TB) map[string]int64 { return pgtest.RowCounts(tb, s.app.Pool) },
	})
	t.Logf("sweep took %s", time.Since(start).Round(time.Millisecond))
}
