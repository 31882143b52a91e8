package identity_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/csi-lombardia/csi/pkg/auth"
)

// TestAmbiguousRequestsAreRefused: request bodies whose meaning depends on which of two values
// a decoder keeps (a member or form field given twice), strings encoding/json would silently
// change (an unpaired surrogate escape), bodies without or with another content type, and
// paths ServeMux would redirect are refused naming the field, and nothing is written. At the
// token endpoint a repeated username would otherwise sign in as one of the two.
func TestAmbiguousRequestsAreRefused(t *testing.T) {
	s := newSuite(t)
	admin, educator := s.users[auth.RoleAmbitoAdmin], s.users[auth.RoleEducator]
	op := func(edit func(string) string) string {
		b, _ := json.Marshal(s.operatorBody(s.coopA.ID, auth.RoleEducator, false))
		return edit(string(b))
	}
	const form, jsonType = "application/x-www-form-urlencoded", "application/json"
	tests := []struct {
		name   string
		method string
		path   string
		token  string
		ctype  string // "-" for no Content-Type header
		body   string
		status int
		field  string
		oauth  string // the RFC 6749 error code the token endpoint adds
	}{
		{name: "token: repeated username (JSON)", method: "POST", path: "/v1/oauth/token", ctype: jsonType,
			body:   `{"grant_type":"password","username":"` + educator + `","username":"` + admin + `","password":"` + password + `"}`,
			status: 400, field: "username", oauth: "invalid_request"},
		{name: "token: repeated username (form)", method: "POST", path: "/v1/oauth/token", ctype: form,
			body:   "grant_type=password&username=" + admin + "&username=" + educator + "&password=" + password,
			status: 400, field: "username", oauth: "invalid_request"},
		{name: "token: repeated grant_type (form)", method: "POST", path: "/v1/oauth/token", ctype: form,
			body: "grant_type=client_credentials&grant_type=password&username=" + admin + "&password=" + password, status: 400, field: "grant_type", oauth: "invalid_request"},
		{name: "token: unpaired surrogate (JSON)", method: "POST", path: "/v1/oauth/token", ctype: jsonType,
			body: `{"grant_type":"password","username":"\ud800` + admin + `","password":"x"}`, status: 400, field: "username", oauth: "invalid_request"},
		{name: "token: no content type", method: "POST", path: "/v1/oauth/token", ctype: "-",
			body: "grant_type=password&username=" + admin + "&password=" + password, status: 415, field: "Content-Type", oauth: "invalid_request"},
		{name: "token: text/plain", method: "POST", path: "/v1/oauth/token", ctype: "text/plain",
			body: "grant_type=password&username=" + admin + "&password=" + password, status: 415, field: "Content-Type", oauth: "invalid_request"},
		{name: "revoke: repeated token (form)", method: "POST", path: "/v1/oauth/revoke", token: s.admin, ctype: form, body: "token=a&token=b", status: 400, field: "token"},
		{name: "revoke: no content type", method: "POST", path: "/v1/oauth/revoke", token: s.admin, ctype: "-", body: `{"token":"a"}`, status: 415, field: "Content-Type"},
		{name: "operator: repeated member", method: "POST", path: "/v1/operators", token: s.admin, ctype: jsonType,
			body: op(func(b string) string { return strings.Replace(b, `{`, `{"given_name":"Eva",`, 1) }), status: 400, field: "given_name"},
		{name: "operator: repeated member in an array of objects", method: "POST", path: "/v1/operators", token: s.admin, ctype: jsonType,
			body: op(func(b string) string { return strings.Replace(b, `"role":`, `"role":"asa","role":`, 1) }), status: 400, field: "profiles[0].role"},
		{name: "operator: unpaired surrogate", method: "POST", path: "/v1/operators", token: s.admin, ctype: jsonType,
			body: op(func(b string) string { return strings.Replace(b, `"given_name":"`, `"given_name":"\udc00`, 1) }), status: 400, field: "given_name"},
		{name: "operator: no content type", method: "POST", path: "/v1/operators", token: s.admin, ctype: "-", body: op(strings.TrimSpace), status: 415, field: "Content-Type"},
		{name: "operator: text/plain", method: "POST", path: "/v1/operators", token: s.admin, ctype: "text/plain", body: op(strings.TrimSpace), status: 415, field: "Content-Type"},
		{name: "import: no content type", method: "POST", path: "/v1/operators:import?organization_id=" + s.coopA.ID.String() + "&role=educator",
			token: s.admin, ctype: "-", body: "fiscal_code,given_name,family_name,email\n", status: 415, field: "Content-Type"},
		{name: "import: text/plain", method: "POST", path: "/v1/operators:import?organization_id=" + s.coopA.ID.String() + "&role=educator",
			token: s.admin, ctype: "text/plain", body: "fiscal_code,given_name,family_name,email\n", status: 415, field: "Content-Type"},
		{name: "path with a dot segment", method: "GET", path: "/v1/./operators", token: s.admin, status: 400, field: "path"},
		{name: "path with a double slash", method: "GET", path: "//v1/operators", token: s.admin, status: 400, field: "path"},
		{name: "path with an escaped dot-dot segment", method: "GET", path: "/v1/operators/%2e%2e/ambiti", token: s.admin, status: 400, field: "path"},
		{name: "open path with a dot segment", method: "GET", path: "/./healthz", status: 400, field: "path"},
	}
	before := s.count("operators")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, s.srv.URL+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.ctype != "-" && tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := rawClient(s).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s = %d, want %d: %s", tc.method, tc.path, resp.StatusCode, tc.status, data)
			}
			var p struct {
				problem
				Error string `json:"error"`
			}
			if err := json.Unmarshal(data, &p); err != nil {
				t.Fatalf("problem %s: %v", data, err)
			}
			if !slices.Equal(p.fields(), []string{tc.field}) {
				t.Errorf("problem fields %v, want [%s]: %s", p.fields(), tc.field, data)
			}
			if p.Error != tc.oauth {
				t.Errorf("error member %q, want %q", p.Error, tc.oauth)
			}
		})
	}
	if after := s.count("operators"); after != before {
		t.Errorf("operators %d -> %d: a refused request wrote", before, after)
	}
}

// rawClient checks the answers against the contract when their path is one of it; a path
// with dot segments is not, so it is sent unchecked.
func rawClient(s *suite) *http.Client {
	return &http.Client{Transport: pathAware{checked: s.client().Transport, raw: s.srv.Client().Transport}}
}

type pathAware struct{ checked, raw http.RoundTripper }

func (p pathAware) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "/.") || strings.Contains(r.URL.Path, "//") {
		return p.raw.RoundTrip(r)
	}
	return p.checked.RoundTrip(r)
}
