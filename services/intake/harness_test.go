package intake_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/auth/authtest"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/intake"
	"github.com/csi-lombardia/csi/services/intake/postgres"
)

var sets = app.Sets(postgres.Migrations)

// The comuni of the test ambito: the comune's operators work in Milano.
const (
	milano  = servicetest.Milano
	bergamo = "016024"
)

// registryDouble is the registry as intake sees it (intake.Registry): the citizens of each
// ambito, and a switch that makes it unreachable. The real HTTP client is tested against the
// registry's contract elsewhere.
type registryDouble struct {
	mu       sync.Mutex
	down     bool
	calls    int
	citizens map[string]map[uuid.UUID]intake.CitizenSummary
}

func (r *registryDouble) Citizen(ctx context.Context, id uuid.UUID) (intake.CitizenSummary, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.down {
		return intake.CitizenSummary{}, &errs.Error{Kind: errs.Unavailable, Message: "registry unreachable", RetryAfter: 7 * time.Second}
	}
	c, _ := auth.FromContext(ctx)
	if cs, ok := r.citizens[c.AmbitoID][id]; ok {
		return cs, nil
	}
	return intake.CitizenSummary{}, errs.E(errs.NotFound, "citizen not found")
}

func (r *registryDouble) setDown(down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = down
}

// suite is a running intake on a fresh database, with a token per role (servicetest) and the
// registry double.
type suite struct {
	*servicetest.Suite
	svc      *intake.Service
	registry *registryDouble
}

// clientScopes are the machine clients of the suite and their scopes.
var clientScopes = map[string][]string{
	"cases": {intake.ScopeCasesRead}, "assessments": {intake.ScopeAssessmentsRead}, "events": {events.ScopeRead},
	"registry": {"citizens:read"},
}

func newSuite(t testing.TB) *suite {
	t.Helper()
	s := &suite{registry: &registryDouble{citizens: map[string]map[uuid.UUID]intake.CitizenSummary{}}}
	s.Suite = servicetest.New(t, servicetest.Config{Service: "intake", Sets: sets, OpenAPI: intake.OpenAPI(), Clients: clientScopes,
		Mount: func(ctx context.Context, a *app.App, iss *authtest.Issuer) (http.Handler, error) {
			svc, h, err := intake.Mount(ctx, a, intake.Parts{Store: postgres.New(a.Pool), Registry: s.registry, Places: places.Default(),
				Config: intake.DefaultConfig(), Verifier: iss.Verifier()})
			s.svc = svc
			return h, err
		}})
	return s
}

// citizen registers a new citizen of the suite's ambito in the registry double.
func (s *suite) citizen() uuid.UUID {
	id := uuid.Must(uuid.NewV7())
	s.registry.mu.Lock()
	defer s.registry.mu.Unlock()
	amb := s.Ambito.String()
	if s.registry.citizens[amb] == nil {
		s.registry.citizens[amb] = map[uuid.UUID]intake.CitizenSummary{}
	}
	s.registry.citizens[amb][id] = intake.CitizenSummary{ID: id, FamilyName: "Rossi", GivenName: "Maria", Sex: "F", BirthDate: "1940-03-02",
		ResidenceISTAT: milano, Status: "alive"}
	return id
}

func (s *suite) tok(role auth.Role) string { return s.Tokens[role] }

// accessBody is a valid access of a citizen at Milano, with reserved text in summary.
func accessBody(citizen uuid.UUID) map[string]any {
	return map[string]any{"date": "2025-03-10", "istat_code": milano, "desk": "Sportello centro", "channel": "in_person",
		"referrer": map[string]any{"kind": "family", "body": "la figlia"}, "citizen_id": citizen, "request_type": "service_request",
		"requested_area": "ANZ", "needs": []string{"ANZ.01"}, "household": map[string]any{"type": "lives_alone", "size": 1},
		"income_area": "insufficient", "isee": map[string]any{"type": "sociosanitario", "value_cents": 1234500}, "occupation": "retired",
		"summary": secretSummary}
}

// The reserved texts of the fixtures: no answer to an administrative or cooperative operator
// may contain them.
const (
	secretSummary   = "RISERVATO-sintesi: la signora riferisce maltrattamenti"
	secretCondition = "RISERVATO-condizione: demenza in fase iniziale"
	secretNotes     = "RISERVATO-note del caso"
	secretTeam      = "RISERVATO-diario di équipe"
	secretService   = "RISERVATO-diario del servizio sociale"
	sharedCoop      = "condiviso con la cooperativa: orari delle visite"
)

func (s *suite) createAccess(token string, body map[string]any) intake.Access {
	s.T.Helper()
	var a intake.Access
	s.Must(201, s.Do("POST", "/v1/accesses", token, body, &a))
	return a
}

// caseBody opens a case of the citizen at Milano in the elderly area.
func caseBody(citizen uuid.UUID) map[string]any {
	return map[string]any{"citizen_id": citizen, "istat_code": milano, "area": "ANZ", "opened_on": "2025-03-11", "notes": secretNotes}
}

func (s *suite) openCase(token string, body map[string]any) intake.Case {
	s.T.Helper()
	var c intake.Case
	s.Must(201, s.Do("POST", "/v1/cases", token, body, &c))
	return c
}

// adl and iadl answers: all independent but bathing (ADL 5/6); IADL all independent but
// housekeeping "needs help with all tasks", which IADL v1 scores 1 and v2 scores 0.
var (
	adlAnswers = map[string]string{"bathing": "dependent", "dressing": "independent", "toileting": "independent",
		"transferring": "independent", "continence": "independent", "feeding": "independent"}
	iadlAnswers = map[string]string{"telephone": "uses_on_own_initiative", "shopping": "independent", "food_preparation": "plans_and_prepares",
		"housekeeping": "needs_help_all_tasks", "laundry": "all_own", "transportation": "public_transport_or_drives",
		"medication": "right_dose_and_time", "finances": "independently"}
)

func assessmentBody(iadlVersion int) map[string]any {
	iadl := map[string]any{"answers": iadlAnswers}
	if iadlVersion > 0 {
		iadl["version"] = iadlVersion
	}
	return map[string]any{"assessed_on": "2025-03-12", "areas": []string{"ANZ"},
		"invalidity": map[string]any{"status": "partial_74_99", "percent": 80}, "disability": "l104_art3_c3",
		"benefits_received": []string{"attendance_allowance"}, "current_condition": secretCondition, "aids": []string{"walker"},
		"needs": map[string]any{"health": []string{"controllo pressorio"}, "social": []string{"aiuto per l'igiene personale"}},
		"adl":   map[string]any{"answers": adlAnswers}, "iadl": iadl}
}

// planBody is a plan with a SAD service whose preferred cooperative is coop.
func planBody(coop uuid.UUID) map[string]any {
	return map[string]any{"goals": []string{"mantenere la domiciliarità"},
		"planned_services": []map[string]any{{"service_type": "SAD", "frequency": "weekly", "hours_per_week": 4.5,
			"preferred_cooperative": coop, "start_on": "2025-04-01", "end_on": "2025-12-31"}},
		"project_value_cents": 500000, "user_copayment_cents": 50000, "project_lead": uuid.New(), "monitoring_lead": uuid.New(),
		"review_on": "2025-10-01"}
}

type problem = servicetest.Problem
