package identity_test

import (
	"strings"
	"testing"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/servicetest"
)

// TestAmbiguousRequestsAreRefused: request bodies whose meaning depends on which of two values
// a decoder keeps (a member or form field given twice), strings encoding/json would silently
// change (an unpaired surrogate escape), bodies without or with another content type, and
// paths ServeMux would redirect are refused naming the field, and nothing is written. At the
// token endpoint a repeated username would otherwise sign in as one of the two.
func TestAmbiguousRequestsAreRefused(t *testing.T) {
	s := newSuite(t)
	admin, educator := s.users[auth.RoleAmbitoAdmin], s.users[auth.RoleEducator]
	op := servicetest.JSON(s.operatorBody(s.coopA.ID, auth.RoleEducator, false))
	const form, jsonType = "application/x-www-form-urlencoded", "application/json"
	oauth := map[string]string{"error": "invalid_request"} // the RFC 6749 code the token endpoint adds
	imp := "/v1/operators:import?organization_id=" + s.coopA.ID.String() + "&role=educator"
	s.Refused(t, []servicetest.Refusal{
		{Name: "token: repeated username (JSON)", Method: "POST", Path: "/v1/oauth/token", ContentType: jsonType,
			Body:   `{"grant_type":"password","username":"` + educator + `","username":"` + admin + `","password":"` + password + `"}`,
			Status: 400, Field: "username", Members: oauth},
		{Name: "token: repeated username (form)", Method: "POST", Path: "/v1/oauth/token", ContentType: form,
			Body:   "grant_type=password&username=" + admin + "&username=" + educator + "&password=" + password,
			Status: 400, Field: "username", Members: oauth},
		{Name: "token: repeated grant_type (form)", Method: "POST", Path: "/v1/oauth/token", ContentType: form,
			Body: "grant_type=client_credentials&grant_type=password&username=" + admin + "&password=" + password, Status: 400, Field: "grant_type", Members: oauth},
		{Name: "token: unpaired surrogate (JSON)", Method: "POST", Path: "/v1/oauth/token", ContentType: jsonType,
			Body: `{"grant_type":"password","username":"\ud800` + admin + `","password":"x"}`, Status: 400, Field: "username", Members: oauth},
		{Name: "token: no content type", Method: "POST", Path: "/v1/oauth/token",
			Body: "grant_type=password&username=" + admin + "&password=" + password, Status: 415, Field: "Content-Type", Members: oauth},
		{Name: "token: text/plain", Method: "POST", Path: "/v1/oauth/token", ContentType: "text/plain",
			Body: "grant_type=password&username=" + admin + "&password=" + password, Status: 415, Field: "Content-Type", Members: oauth},
		{Name: "revoke: repeated token (form)", Method: "POST", Path: "/v1/oauth/revoke", Token: s.admin, ContentType: form, Body: "token=a&token=b",
			Status: 400, Field: "token", Members: map[string]string{"error": ""}},
		{Name: "revoke: no content type", Method: "POST", Path: "/v1/oauth/revoke", Token: s.admin, Body: `{"token":"a"}`, Status: 415, Field: "Content-Type"},
		{Name: "operator: repeated member", Method: "POST", Path: "/v1/operators", Token: s.admin, ContentType: jsonType,
			Body: strings.Replace(op, `{`, `{"given_name":"Eva",`, 1), Status: 400, Field: "given_name"},
		{Name: "operator: repeated member in an array of objects", Method: "POST", Path: "/v1/operators", Token: s.admin, ContentType: jsonType,
			Body: strings.Replace(op, `"role":`, `"role":"asa","role":`, 1), Status: 400, Field: "profiles[0].role"},
		{Name: "operator: unpaired surrogate", Method: "POST", Path: "/v1/operators", Token: s.admin, ContentType: jsonType,
			Body: strings.Replace(op, `"given_name":"`, `"given_name":"\udc00`, 1), Status: 400, Field: "given_name"},
		{Name: "operator: no content type", Method: "POST", Path: "/v1/operators", Token: s.admin, Body: op, Status: 415, Field: "Content-Type"},
		{Name: "operator: text/plain", Method: "POST", Path: "/v1/operators", Token: s.admin, ContentType: "text/plain", Body: op, Status: 415, Field: "Content-Type"},
		{Name: "import: no content type", Method: "POST", Path: imp, Token: s.admin, Body: "fiscal_code,given_name,family_name,email\n", Status: 415, Field: "Content-Type"},
		{Name: "import: text/plain", Method: "POST", Path: imp, Token: s.admin, ContentType: "text/plain", Body: "fiscal_code,given_name,family_name,email\n", Status: 415, Field: "Content-Type"},
		{Name: "path with a dot segment", Method: "GET", Path: "/v1/./operators", Token: s.admin, Status: 400, Field: "path"},
		{Name: "path with a double slash", Method: "GET", Path: "//v1/operators", Token: s.admin, Status: 400, Field: "path"},
		{Name: "path with an escaped dot-dot segment", Method: "GET", Path: "/v1/operators/%2e%2e/ambiti", Token: s.admin, Status: 400, Field: "path"},
		{Name: "open path with a dot segment", Method: "GET", Path: "/./healthz", Status: 400, Field: "path"},
	}, func() int { return s.Count("SELECT count(*) FROM operators") })
}
