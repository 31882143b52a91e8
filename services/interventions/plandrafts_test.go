package interventions_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/discovery"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/peers"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/interventions"
)

// intakeFeed is intake's event feed as interventions reads it: a real outbox (PostgreSQL) served
// at GET /v1/events to a client of the suite's ambito.
type intakeFeed struct {
	pool *pgxpool.Pool
	srv  *httptest.Server
}

func newIntakeFeed(t *testing.T, ambito uuid.UUID) *intakeFeed {
	f := &intakeFeed{pool: pgtest.New(t, events.Migrations)}
	client := auth.Claims{Subject: "interventions", Kind: auth.KindClient, Role: auth.RoleClient, AmbitoID: ambito.String(),
		Scopes: []string{events.ScopeRead}}
	feed := httpapi.NewServer(slog.New(slog.DiscardHandler), events.FeedEndpoint(f.pool), events.DecodeFeedRequest)
	mux := http.NewServeMux()
	mux.Handle("GET /v1/events", httpapi.Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		feed.ServeHTTP(w, r.WithContext(auth.WithClaims(r.Context(), client)))
	}), httpapi.RequestIDs()))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// planVersioned appends intake's plan.versioned (the payload of services/intake/plans.go).
func (f *intakeFeed) planVersioned(t *testing.T, ambito, caseID, citizen uuid.UUID, version int64, services ...map[string]any) {
	t.Helper()
	ev := events.Of(ambito, "plan.versioned", "case", caseID, map[string]any{"case_id": caseID, "citizen_id": citizen,
		"istat_code": servicetest.Milano, "version": version, "planned_services": services, "project_value_cents": 120000,
		"user_copayment_cents": 0, "review_on": "2025-09-30"})
	other := events.Of(ambito, "case.opened", "case", caseID, map[string]any{"case_id": caseID})
	if err := pgdb.InTx(context.Background(), f.pool, func(tx pgx.Tx) error { return events.Append(context.Background(), tx, other, ev) }); err != nil {
		t.Fatal(err)
	}
}

func (s *suite) intakeConsumer(t *testing.T, f *intakeFeed) *events.Consumer {
	c, err := peers.New(peers.Config{Name: "intake", Peers: discovery.NewStatic(map[string][]string{"csi-intake": {f.srv.URL}}),
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return &events.Consumer{Name: "intake-plans", Source: c.Feed(), Pool: s.App.Pool, Apply: s.svc.ApplyIntakeEvents, Limit: 3,
		Log: slog.New(slog.DiscardHandler)}
}

// follow steps the consumer until it has applied every event of intake's outbox.
func (s *suite) follow(t *testing.T, c *events.Consumer, f *intakeFeed) {
	t.Helper()
	var total int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.Count(`SELECT coalesce(sum(applied), 0)::int FROM feed_cursors WHERE consumer = 'intake-plans'`) < total {
		if time.Now().After(deadline) {
			t.Fatalf("the consumer did not apply intake's %d events", total)
		}
		if full, err := c.Step(context.Background()); err != nil {
			t.Fatalf("Step() = %v", err)
		} else if !full {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func (s *suite) drafts(t *testing.T, caseID uuid.UUID) []interventions.Authorization {
	t.Helper()
	var page struct{ Items []interventions.Authorization }
	s.Must(200, s.Do("GET", "/v1/authorizations?status=draft&case_id="+caseID.String(), s.tok(auth.RoleServiceManager), nil, &page))
	return page.Items
}

func TestDraftsFromThePAI(t *testing.T) {
	s := newSuite(t)
	f := newIntakeFeed(t, s.Ambito)
	consumer := s.intakeConsumer(t, f)
	caseID, citizen := uuid.New(), uuid.New()
	sad := map[string]any{"service_type": "SAD", "frequency": "weekly", "hours_per_week": 4.4, "preferred_cooperative": s.Coop,
		"start_on": "2025-04-01", "end_on": "2025-12-31"}
	adm := map[string]any{"service_type": "ADM", "frequency": "weekly", "hours_per_week": 3}
	f.planVersioned(t, s.Ambito, caseID, citizen, 1, sad, adm)
	s.follow(t, consumer, f)

	got := s.drafts(t, caseID)
	if len(got) != 2 {
		t.Fatalf("drafts of the case = %d, want 2 (SAD and ADM)", len(got))
	}
	byType := map[string]interventions.Authorization{}
	for _, a := range got {
		byType[a.ServiceType] = a
		if a.Status != interventions.StatusDraft || a.CitizenID != citizen || a.ISTATCode != servicetest.Milano ||
			a.CreatedBy != interventions.SystemOperator || a.Plan == nil || a.Plan.CaseID != caseID || a.Plan.Version != 1 {
			t.Errorf("draft %+v: want a draft of the case's citizen at Milano by the system, from plan version 1", a)
		}
	}
	if a := byType["SAD"]; a.CooperativeID != s.Coop || a.Period != (interventions.Period{From: "2025-04-01", To: "2025-12-31"}) ||
		a.Hours.PerWeek == nil || *a.Hours.PerWeek != 4.5 || a.Plan.HoursPerWeek != 4.4 {
		t.Errorf("SAD draft = %+v, want the preferred cooperative, the plan's period, 4.4 hours as 4.5", a)
	}
	if a := byType["ADM"]; a.CooperativeID != uuid.Nil || a.Period != (interventions.Period{}) || a.AccreditationID != uuid.Nil {
		t.Errorf("ADM draft = %+v, want no cooperative, period nor accreditation yet", a)
	}
	if n := s.Count(`SELECT count(*) FROM outbox WHERE type = 'authorization.created'`); n != 2 {
		t.Errorf("authorization.created events = %d, want 2", n)
	}

	// Redelivered: the same event read again (the cursor lost) and the same plan version in a
	// second event make nothing twice.
	if _, err := s.App.Pool.Exec(context.Background(), `UPDATE feed_cursors SET position = '', applied = 0`); err != nil {
		t.Fatal(err)
	}
	f.planVersioned(t, s.Ambito, caseID, citizen, 1, sad, adm)
	s.follow(t, consumer, f)
	if got := s.drafts(t, caseID); len(got) != 2 {
		t.Errorf("drafts after a redelivery = %d, want 2", len(got))
	}

	// A new version: the unchanged SAD stands, the ADM with more hours is a new draft.
	adm6 := map[string]any{"service_type": "ADM", "frequency": "weekly", "hours_per_week": 6}
	f.planVersioned(t, s.Ambito, caseID, citizen, 2, sad, adm6, map[string]any{"service_type": "XYZ", "frequency": "weekly", "hours_per_week": 1})
	s.follow(t, consumer, f)
	got = s.drafts(t, caseID)
	if len(got) != 3 {
		t.Fatalf("drafts after version 2 = %d, want 3 (the unchanged SAD not again, the changed ADM anew, no XYZ)", len(got))
	}
	if a := got[0]; a.ServiceType != "ADM" || a.Plan.Version != 2 || *a.Hours.PerWeek != 6 {
		t.Errorf("newest draft = %+v, want ADM of version 2 with 6 hours", a)
	}
	if n := s.Count(`SELECT count(*) FROM audit_records WHERE action = 'authorization.create' AND actor_id = $1`, interventions.SystemOperator.ID); n != 3 {
		t.Errorf("audit records of the drafts = %d, want 3", n)
	}

	// The service manager completes a draft: activation names what is missing, then succeeds
	// with the accreditation's tariff.
	adm1 := byType["ADM"]
	path := "/v1/authorizations/" + adm1.ID.String()
	resp := s.Do("POST", path+"/status", s.tok(auth.RoleServiceManager), map[string]any{"status": "active", "reason": "PAI approvato"}, nil)
	p := servicetest.DecodeProblem(t, resp)
	if diff := cmp.Diff([]string{"cooperative_id", "period"}, p.Fields()); resp.StatusCode != 409 || diff != "" {
		t.Errorf("activating an incomplete draft = %d %v, want 409 naming cooperative_id and period (-want +got):\n%s", resp.StatusCode, p, diff)
	}
	var patched interventions.Authorization
	s.Must(200, s.Do("PATCH", path, s.tok(auth.RoleServiceManager), map[string]any{"cooperative_id": s.Coop,
		"period": map[string]any{"from": "2025-05-01", "to": "2025-10-31"}}, &patched, "If-Match", s.ETag(path, s.tok(auth.RoleServiceManager))))
	var active interventions.Authorization
	s.Must(200, s.Do("POST", path+"/status", s.tok(auth.RoleServiceManager), map[string]any{"status": "active", "reason": "PAI approvato"}, &active))
	if active.Status != interventions.StatusActive || active.AccreditationID == uuid.Nil || active.HourlyTariffCents != 2150 {
		t.Errorf("activated draft = %+v, want active with the accreditation and its tariff", active)
	}
	// The complete SAD draft, never checked, takes its accreditation at activation.
	s.Must(200, s.Do("POST", "/v1/authorizations/"+byType["SAD"].ID.String()+"/status", s.tok(auth.RoleServiceManager),
		map[string]any{"status": "active", "reason": "PAI approvato"}, &active))
	if active.AccreditationID == uuid.Nil || active.HourlyTariffCents != 2150 {
		t.Errorf("activated SAD draft = %+v, want the accreditation and its tariff", active)
	}
}
