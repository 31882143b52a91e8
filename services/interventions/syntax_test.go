package interventions_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/servicetest"
)

// TestAmbiguousRequestsAreRefused: a member given twice (at any depth), an unpaired surrogate
// escape, a body without or with another content type and a path ServeMux would redirect are
// refused naming the field, and nothing is written.
func TestAmbiguousRequestsAreRefused(t *testing.T) {
	s := newSuite(t)
	sm := s.tok(auth.RoleServiceManager)
	body := servicetest.JSON(s.body())
	a := s.create(sm, s.body())
	status := "/v1/authorizations/" + a.ID.String() + "/status"
	change := `{"status":"active","reason":"PAI approvato"}`
	s.Refused(t, []servicetest.Refusal{
		{Name: "repeated member", Method: "POST", Path: "/v1/authorizations", Token: sm, ContentType: "application/json",
			Body: strings.Replace(body, `{`, `{"service_type":"ADM",`, 1), Status: 400, Field: "service_type"},
		{Name: "repeated nested member", Method: "POST", Path: "/v1/authorizations", Token: sm, ContentType: "application/json",
			Body: strings.Replace(body, `"from":"2025-04-01"`, `"from":"2025-05-01","from":"2025-04-01"`, 1), Status: 400, Field: "period.from"},
		{Name: "unpaired surrogate", Method: "POST", Path: status, Token: sm, ContentType: "application/json",
			Body: strings.Replace(change, `"reason":"`, `"reason":"\ud800`, 1), Status: 400, Field: "reason"},
		{Name: "no content type", Method: "POST", Path: "/v1/authorizations", Token: sm, Body: body, Status: 415, Field: "Content-Type"},
		{Name: "text/plain", Method: "POST", Path: status, Token: sm, ContentType: "text/plain", Body: change, Status: 415, Field: "Content-Type"},
		{Name: "path with a dot segment", Method: "GET", Path: "/v1/./authorizations", Token: sm, Status: 400, Field: "path"},
		{Name: "path with a double slash", Method: "GET", Path: "//v1/authorizations", Token: sm, Status: 400, Field: "path"},
		{Name: "a bad id", Method: "GET", Path: "/v1/authorizations/" + uuid.NewString()[:8], Token: sm, Status: 400, Field: "id"},
	}, func() int {
		return s.Count("SELECT (SELECT count(*) FROM authorizations) + (SELECT count(*) FROM authorization_versions)")
	})
}
