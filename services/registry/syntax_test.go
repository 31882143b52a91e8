package registry_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/csi-lombardia/csi/pkg/auth"
)

// TestAmbiguousRequestsAreRefused: a member given twice (at any depth), an unpaired surrogate
// escape, a body without or with another content type (JSON and CSV alike) and a path
// ServeMux would redirect are refused naming the field, and nothing is written.
func TestAmbiguousRequestsAreRefused(t *testing.T) {
	s := newSuite(t, options{})
	writer, admin := s.clients["writer"], s.tokens[auth.RoleAdministrative]
	citizen := func(edit func(string) string) string {
		b, _ := json.Marshal(citizenBody(t, milano))
		return edit(string(b))
	}
	const csv = "fiscal_code,family_name\n"
	tests := []struct {
		name   string
		method string
		path   string
		token  string
		ctype  string // "" for no Content-Type header
		body   string
		status int
		field  string
	}{
		{name: "repeated member", method: "POST", path: "/v1/citizens", token: writer, ctype: "application/json",
			body: citizen(func(b string) string { return strings.Replace(b, `{`, `{"family_name":"Rossi",`, 1) }), status: 400, field: "family_name"},
		{name: "repeated nested member", method: "POST", path: "/v1/citizens", token: writer, ctype: "application/json",
			body: citizen(func(b string) string {
				return strings.Replace(b, `"istat_code":`, `"istat_code":"015146","istat_code":`, 1)
			}), status: 400, field: "residence.istat_code"},
		{name: "unpaired surrogate", method: "POST", path: "/v1/citizens", token: writer, ctype: "application/json",
			body: citizen(func(b string) string { return strings.Replace(b, `"address":"`, `"address":"\ud800`, 1) }), status: 400, field: "residence.address"},
		{name: "search: repeated member", method: "POST", path: "/v1/citizens:search", token: writer, ctype: "application/json",
			body: `{"fiscal_code":"RSSMRA80A01F205X","fiscal_code":"BNCGLI80A41F205X","purpose":"care"}`, status: 400, field: "fiscal_code"},
		{name: "no content type", method: "POST", path: "/v1/citizens", token: writer, body: citizen(strings.TrimSpace), status: 415, field: "Content-Type"},
		{name: "text/plain", method: "POST", path: "/v1/citizens", token: writer, ctype: "text/plain", body: citizen(strings.TrimSpace), status: 415, field: "Content-Type"},
		{name: "import: no content type", method: "POST", path: "/v1/imports?istat_code=" + milano, token: admin, body: csv, status: 415, field: "Content-Type"},
		{name: "import: text/plain", method: "POST", path: "/v1/imports?istat_code=" + milano, token: admin, ctype: "text/plain", body: csv, status: 415, field: "Content-Type"},
		{name: "import: JSON", method: "POST", path: "/v1/imports?istat_code=" + milano, token: admin, ctype: "application/json", body: `{}`, status: 415, field: "Content-Type"},
		{name: "path with a dot segment", method: "GET", path: "/v1/./citizens", token: writer, status: 400, field: "path"},
		{name: "path with a dot-dot segment", method: "GET", path: "/v1/citizens/../municipalities", token: writer, status: 400, field: "path"},
		{name: "path with a double slash", method: "GET", path: "//v1/citizens", token: writer, status: 400, field: "path"},
		{name: "path with an escaped dot-dot segment", method: "GET", path: "/v1/citizens/%2e%2e/municipalities", token: writer, status: 400, field: "path"},
		{name: "open path with a double slash", method: "GET", path: "//metrics", status: 400, field: "path"},
	}
	before := s.count("SELECT count(*) FROM citizens")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, s.Srv.URL+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			client := s.Client() // the answer is checked against the contract
			if strings.Contains(req.URL.Path, "/.") || strings.Contains(req.URL.Path, "//") {
				client = s.Srv.Client() // not a path of the contract
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s = %d, want %d: %s", tc.method, tc.path, resp.StatusCode, tc.status, data)
			}
			var p problem
			if err := json.Unmarshal(data, &p); err != nil {
				t.Fatalf("problem %s: %v", data, err)
			}
			if !slices.Equal(p.Fields(), []string{tc.field}) {
				t.Errorf("problem fields %v, want [%s]: %s", p.Fields(), tc.field, data)
			}
		})
	}
	if after := s.count("SELECT count(*) FROM citizens"); after != before {
		t.Errorf("citizens %d -> %d: a refused request wrote", before, after)
	}
}
