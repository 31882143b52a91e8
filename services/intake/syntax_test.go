package intake_test

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
	sw := s.tok(auth.RoleSocialWorker)
	access := servicetest.JSON(accessBody(s.citizen()))
	c := s.openCase(sw, caseBody(s.citizen()))
	diary := "/v1/cases/" + c.ID.String() + "/diary"
	entry := `{"entry_on":"2025-03-12","text":"visita","visibility":"team"}`
	s.Refused(t, []servicetest.Refusal{
		{Name: "repeated member", Method: "POST", Path: "/v1/accesses", Token: sw, ContentType: "application/json",
			Body: strings.Replace(access, `{`, `{"channel":"phone",`, 1), Status: 400, Field: "channel"},
		{Name: "repeated nested member", Method: "POST", Path: "/v1/accesses", Token: sw, ContentType: "application/json",
			Body: strings.Replace(access, `"kind":`, `"kind":"self","kind":`, 1), Status: 400, Field: "referrer.kind"},
		{Name: "unpaired surrogate", Method: "POST", Path: "/v1/accesses", Token: sw, ContentType: "application/json",
			Body: strings.Replace(access, `"summary":"`, `"summary":"\ud800`, 1), Status: 400, Field: "summary"},
		{Name: "diary: repeated member", Method: "POST", Path: diary, Token: sw, ContentType: "application/json",
			Body: strings.Replace(entry, `{`, `{"visibility":"social_service",`, 1), Status: 400, Field: "visibility"},
		{Name: "no content type", Method: "POST", Path: "/v1/accesses", Token: sw, Body: access, Status: 415, Field: "Content-Type"},
		{Name: "text/plain", Method: "POST", Path: diary, Token: sw, ContentType: "text/plain", Body: entry, Status: 415, Field: "Content-Type"},
		{Name: "path with a dot segment", Method: "GET", Path: "/v1/./cases", Token: sw, Status: 400, Field: "path"},
		{Name: "path with a dot-dot segment", Method: "GET", Path: "/v1/cases/../accesses", Token: sw, Status: 400, Field: "path"},
		{Name: "path with a double slash", Method: "GET", Path: "//v1/cases", Token: sw, Status: 400, Field: "path"},
		{Name: "path with an escaped dot-dot segment", Method: "GET", Path: "/v1/cases/%2e%2e/accesses", Token: sw, Status: 400, Field: "path"},
		{Name: "a bad id", Method: "GET", Path: "/v1/cases/" + uuid.NewString()[:8], Token: sw, Status: 400, Field: "id"},
	}, func() int {
		return s.Count("SELECT (SELECT count(*) FROM accesses) + (SELECT count(*) FROM diary_entries)")
	})
}
