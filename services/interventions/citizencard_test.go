package interventions_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/services/interventions"
)

// registryDouble is registry as interventions sees it (interventions.Registry): a card for
// every citizen asked, and a switch that makes it unreachable. The real HTTP client is tested
// against registry's contract in registryhttp.
type registryDouble struct {
	mu    sync.Mutex
	down  bool
	calls int
}

func cardOf(id uuid.UUID) interventions.CitizenCard {
	return interventions.CitizenCard{ID: id, FamilyName: "Rossi", GivenName: "Maria",
		Residence: &interventions.CardAddress{Address: "Via Roma 1", PostalCode: "20121", Municipality: "Milano", ISTATCode: "015146"},
		Phone:     "+39 02 1234567", Contact: &interventions.ContactPerson{Role: "household_head", Name: "Luigi Bianchi"}}
}

func (d *registryDouble) CitizenCard(_ context.Context, id uuid.UUID) (interventions.CitizenCard, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.down {
		return interventions.CitizenCard{}, &errs.Error{Kind: errs.Unavailable, Message: "registry unreachable", RetryAfter: 5 * time.Second}
	}
	return cardOf(id), nil
}

func (d *registryDouble) setDown(down bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.down = down
}

func TestCitizenCard(t *testing.T) {
	s := newSuite(t)
	a := s.active(s.body())
	path := "/v1/authorizations/" + a.ID.String()
	cardReads := func(citizen uuid.UUID) int {
		return s.Count(`SELECT count(*) FROM audit_records WHERE action = 'citizen_card.read' AND citizen_id = $1`, citizen.String())
	}

	// The cooperative's operators and clients get the card, with a list and with one.
	for _, role := range []auth.Role{auth.RoleCoopCoordinator, auth.RoleEducator, auth.RoleOSS} {
		var got interventions.Authorization
		s.Must(200, s.Do("GET", path, s.tok(role), nil, &got))
		want := cardOf(a.CitizenID)
		if diff := cmp.Diff(&want, got.Citizen); diff != "" || got.CitizenUnavailable {
			t.Errorf("%s: citizen card (-want +got):\n%s (unavailable %v)", role, diff, got.CitizenUnavailable)
		}
	}
	coopClient := s.Iss.Token(t, auth.Claims{Subject: "coop-system", Kind: auth.KindClient, Role: auth.RoleClient, AmbitoID: s.Ambito.String(),
		OrgID: s.Coop.String(), OrgKind: "cooperativa", Scopes: []string{interventions.ScopeAuthorizationsRead}})
	var page struct{ Items []interventions.Authorization }
	s.Must(200, s.Do("GET", "/v1/authorizations", coopClient, nil, &page))
	if len(page.Items) != 1 || page.Items[0].Citizen == nil || page.Items[0].Citizen.ID != a.CitizenID {
		t.Errorf("cooperative client's list = %+v, want the authorization with its citizen card", page.Items)
	}
	if n := cardReads(a.CitizenID); n != 4 {
		t.Errorf("audit records of the card = %d, want 4 (one a read)", n)
	}
	s.registry.mu.Lock()
	calls := s.registry.calls
	s.registry.mu.Unlock()
	if calls != 1 {
		t.Errorf("calls to registry = %d, want 1 (the card cached)", calls)
	}

	// The comune's operators and the Ufficio di Piano get the citizen id only.
	for _, role := range []auth.Role{auth.RoleServiceManager, auth.RoleSocialWorker, auth.RolePlanningOffice} {
		var got map[string]any
		s.Must(200, s.Do("GET", path, s.tok(role), nil, &got))
		if _, ok := got["citizen"]; ok || got["citizen_unavailable"] != nil || got["citizen_id"] != a.CitizenID.String() {
			t.Errorf("%s: read %v, want the citizen id and no card", role, got)
		}
	}

	// Registry down: a card not cached is left out, with the marker; the read still succeeds.
	s.registry.setDown(true)
	b := s.active(s.body())
	var down interventions.Authorization
	s.Must(200, s.Do("GET", "/v1/authorizations/"+b.ID.String(), s.tok(auth.RoleCoopCoordinator), nil, &down))
	if down.Citizen != nil || !down.CitizenUnavailable {
		t.Errorf("with registry down: citizen %+v, unavailable %v; want no card and citizen_unavailable", down.Citizen, down.CitizenUnavailable)
	}
	if n := cardReads(b.CitizenID); n != 0 {
		t.Errorf("audit records of a card not served = %d, want 0", n)
	}
	// The cached card is still served.
	var downPage struct{ Items []interventions.Authorization }
	s.Must(200, s.Do("GET", "/v1/authorizations", s.tok(auth.RoleCoopCoordinator), nil, &downPage))
	for _, it := range downPage.Items {
		switch it.ID {
		case a.ID:
			if it.Citizen == nil {
				t.Errorf("with registry down, the cached card of %s is missing", it.ID)
			}
		case b.ID:
			if it.Citizen != nil || !it.CitizenUnavailable {
				t.Errorf("with registry down, %s: want citizen_unavailable", it.ID)
			}
		}
	}
	// A list of many citizens with registry down stops asking it once it answered unavailable
	// (at most the loads already in flight, eight, ask).
	for range 12 {
		s.active(s.body())
	}
	s.registry.mu.Lock()
	before := s.registry.calls
	s.registry.mu.Unlock()
	var many struct{ Items []interventions.Authorization }
	s.Must(200, s.Do("GET", "/v1/authorizations?limit=50", s.tok(auth.RoleCoopCoordinator), nil, &many))
	s.registry.mu.Lock()
	asked := s.registry.calls - before
	s.registry.mu.Unlock()
	if len(many.Items) != 14 || asked > 8 {
		t.Errorf("list of %d with registry down asked registry %d times, want 14 items and at most 8 calls", len(many.Items), asked)
	}
	s.registry.setDown(false)
	var back interventions.Authorization
	s.Must(200, s.Do("GET", "/v1/authorizations/"+b.ID.String(), s.tok(auth.RoleCoopCoordinator), nil, &back))
	if back.Citizen == nil || back.CitizenUnavailable {
		t.Errorf("registry back: citizen %+v, unavailable %v; want the card", back.Citizen, back.CitizenUnavailable)
	}
	// The card is never stored with the authorization.
	if n := s.Count(`SELECT count(*) FROM authorizations WHERE data ? 'citizen' OR data ? 'citizen_unavailable'`); n != 0 {
		t.Errorf("authorizations stored with a card = %d, want 0", n)
	}
}
