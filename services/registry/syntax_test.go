package registry_test

import (
	"strings"
	"testing"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/servicetest"
)

// TestAmbiguousRequestsAreRefused: a member given twice (at any depth), an unpaired surrogate
// escape, a body without or with another content type (JSON and CSV alike) and a path
// ServeMux would redirect are refused naming the field, and nothing is written.
func TestAmbiguousRequestsAreRefused(t *testing.T) {
	s := newSuite(t, options{})
	writer, admin := s.Clients["writer"], s.Tokens[auth.RoleAdministrative]
	citizen := servicetest.JSON(citizenBody(milano))
	const csv = "fiscal_code,family_name\n"
	s.Refused(t, []servicetest.Refusal{
		{Name: "repeated member", Method: "POST", Path: "/v1/citizens", Token: writer, ContentType: "application/json",
			Body: strings.Replace(citizen, `{`, `{"family_name":"Rossi",`, 1), Status: 400, Field: "family_name"},
		{Name: "repeated nested member", Method: "POST", Path: "/v1/citizens", Token: writer, ContentType: "application/json",
			Body: strings.Replace(citizen, `"istat_code":`, `"istat_code":"015146","istat_code":`, 1), Status: 400, Field: "residence.istat_code"},
		{Name: "unpaired surrogate", Method: "POST", Path: "/v1/citizens", Token: writer, ContentType: "application/json",
			Body: strings.Replace(citizen, `"address":"`, `"address":"\ud800`, 1), Status: 400, Field: "residence.address"},
		{Name: "search: repeated member", Method: "POST", Path: "/v1/citizens:search", Token: writer, ContentType: "application/json",
			Body: `{"fiscal_code":"RSSMRA80A01F205X","fiscal_code":"BNCGLI80A41F205X","purpose":"care"}`, Status: 400, Field: "fiscal_code"},
		{Name: "no content type", Method: "POST", Path: "/v1/citizens", Token: writer, Body: citizen, Status: 415, Field: "Content-Type"},
		{Name: "text/plain", Method: "POST", Path: "/v1/citizens", Token: writer, ContentType: "text/plain", Body: citizen, Status: 415, Field: "Content-Type"},
		{Name: "import: no content type", Method: "POST", Path: "/v1/imports?istat_code=" + milano, Token: admin, Body: csv, Status: 415, Field: "Content-Type"},
		{Name: "import: text/plain", Method: "POST", Path: "/v1/imports?istat_code=" + milano, Token: admin, ContentType: "text/plain", Body: csv, Status: 415, Field: "Content-Type"},
		{Name: "import: JSON", Method: "POST", Path: "/v1/imports?istat_code=" + milano, Token: admin, ContentType: "application/json", Body: `{}`, Status: 415, Field: "Content-Type"},
		{Name: "path with a dot segment", Method: "GET", Path: "/v1/./citizens", Token: writer, Status: 400, Field: "path"},
		{Name: "path with a dot-dot segment", Method: "GET", Path: "/v1/citizens/../municipalities", Token: writer, Status: 400, Field: "path"},
		{Name: "path with a double slash", Method: "GET", Path: "//v1/citizens", Token: writer, Status: 400, Field: "path"},
		{Name: "path with an escaped dot-dot segment", Method: "GET", Path: "/v1/citizens/%2e%2e/municipalities", Token: writer, Status: 400, Field: "path"},
		{Name: "open path with a double slash", Method: "GET", Path: "//metrics", Status: 400, Field: "path"},
	}, func() int { return s.Count("SELECT count(*) FROM citizens") })
}
