package intake_test

import (
	"testing"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/services/intake"
)

func TestAccessEndToEnd(t *testing.T) {
	s := newSuite(t)
	sw := s.tok(auth.RoleSocialWorker)
	cid := s.citizen()
	a := s.createAccess(sw, accessBody(cid))
	if a.TaxonomyVersion != 1 || a.Summary != secretSummary || a.Date != "2025-03-10" || a.Operator.Role != "social_worker" {
		t.Errorf("created %+v", a)
	}
	var got intake.Access
	s.Must(200, s.Do("GET", "/v1/accesses/"+a.ID.String(), sw, nil, &got))
	if got.ID != a.ID || got.Summary != secretSummary {
		t.Errorf("read %+v", got)
	}
	var page struct{ Items []intake.Access }
	s.Must(200, s.Do("GET", "/v1/accesses?istat_code="+milano, sw, nil, &page))
	if len(page.Items) != 1 {
		t.Errorf("list = %d items", len(page.Items))
	}
	etag := s.ETag("/v1/accesses/"+a.ID.String(), sw)
	s.Must(200, s.Do("PATCH", "/v1/accesses/"+a.ID.String(), sw, map[string]any{"outcome": map[string]any{"kind": "referral", "referred_to": "CPS"}}, &got, "If-Match", etag))
	if got.Outcome == nil || got.Outcome.Kind != "referral" || got.Version != 2 {
		t.Errorf("patched %+v", got)
	}
	if n := s.Count("SELECT count(*) FROM outbox WHERE type = 'access.recorded'"); n != 1 {
		t.Errorf("access.recorded events = %d", n)
	}
	if n := s.Count("SELECT count(*) FROM audit_records WHERE action LIKE 'access.%'"); n < 4 {
		t.Errorf("audit records = %d", n)
	}
}
