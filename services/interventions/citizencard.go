package interventions

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/cache"
	"github.com/csi-lombardia/csi/pkg/errs"
)

// The citizen card. A cooperative's operators and clients reading an authorization (one, or a
// list) get the minimal card of its citizen they need to deliver the service (DOMAIN.md:
// cooperatives are processors, they see the minimum fields): name, residence and domicile,
// phone and e-mail, and the person to contact — the citizen's legal representative while there
// is one, otherwise the head of the citizen's household when that is someone else. Nothing else:
// no codice fiscale, birth data, documents, consents nor case content. The card comes from
// registry (Registry, registryhttp) and is cached for Config.CitizenCardTTL; a read waits for its
// cards at most cardBudget, and stops asking registry once it answered unavailable. Registry down or
// not knowing the citizen does not fail the read: the card is left out and the authorization
// carries citizen_unavailable: true. Every card served writes an audit record
// (citizen_card.read) with the citizen's id before the answer; registry audits its own reads.
// The comune's operators and the Ufficio di Piano get the citizen id only: they read registry
// themselves.

// CitizenCard is the minimal card of a citizen a cooperative gets with an authorization.
type CitizenCard struct {
	ID         uuid.UUID      `json:"id"`
	FamilyName string         `json:"family_name"`
	GivenName  string         `json:"given_name"`
	Residence  *CardAddress   `json:"residence,omitempty"`
	Domicile   *CardAddress   `json:"domicile,omitempty"`
	Phone      string         `json:"phone,omitempty"`
	Email      string         `json:"email,omitempty"`
	Contact    *ContactPerson `json:"contact_person,omitempty"`
}

// CardAddress is an address of the card, as registry has it.
type CardAddress struct {
	Address      string `json:"address"`
	PostalCode   string `json:"postal_code,omitempty"`
	Municipality string `json:"municipality,omitempty"`
	ISTATCode    string `json:"istat_code"`
}

// ContactPerson is whom the cooperative contacts for the citizen.
type ContactPerson struct {
	// Role is legal_representative (then Kind is registry's: guardian, support_administrator,
	// curator, parent) or household_head.
	Role string `json:"role"`
	Kind string `json:"kind,omitempty"`
	Name string `json:"name,omitempty"`
}

// Registry is what interventions needs of the registry service (implemented by registryhttp).
type Registry interface {
	// CitizenCard returns the card of a citizen of the service client's ambito. errs.NotFound
	// when registry has no such citizen, errs.Unavailable when it cannot answer.
	CitizenCard(ctx context.Context, id uuid.UUID) (CitizenCard, error)
}

const (
	// maxCardLoads bounds the calls to registry a list makes at once.
	maxCardLoads = 8
	// cardBudget bounds the time a read waits for its cards: the cards not loaded by then are
	// left out (citizen_unavailable), so a registry that hangs slows a list by this much at most.
	cardBudget = 3 * time.Second
)

// withCards gives the cooperative caller the citizen cards of items (in place) and returns the
// audit records of the cards served. Other callers get none.
func (s *Service) withCards(ctx context.Context, sc scope, items []Authorization) []audit.Record {
	if sc.coop == uuid.Nil || len(items) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, 0, len(items))
	seen := map[uuid.UUID]bool{}
	for _, a := range items {
		if !seen[a.CitizenID] {
			seen[a.CitizenID] = true
			ids = append(ids, a.CitizenID)
		}
	}
	cards := make(map[uuid.UUID]*CitizenCard, len(ids))
	var mu sync.Mutex
	var wg sync.WaitGroup
	var down atomic.Bool // registry answered unavailable: the other cards from the cache only
	sem := make(chan struct{}, maxCardLoads)
	loadCtx, cancel := context.WithTimeout(ctx, cardBudget)
	defer cancel()
	for _, id := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := s.card(loadCtx, sc.ambitoID, id, &down)
			if err != nil {
				s.log.WarnContext(ctx, "citizen card not available: the authorization is served without it", "citizen_id", id, "err", err)
				return
			}
			mu.Lock()
			cards[id] = &c
			mu.Unlock()
		})
	}
	wg.Wait()
	var recs []audit.Record
	for i := range items {
		a := &items[i]
		if c := cards[a.CitizenID]; c != nil {
			a.Citizen = c
			recs = append(recs, rec(sc, "citizen_card.read", *a, nil))
		} else {
			a.CitizenUnavailable = true
		}
	}
	return recs
}

// card is the citizen's card, from the cache or registry; once registry has answered
// unavailable in this read (down), from the cache only.
func (s *Service) card(ctx context.Context, ambitoID, id uuid.UUID, down *atomic.Bool) (CitizenCard, error) {
	if s.registry == nil {
		return CitizenCard{}, errs.E(errs.Unavailable, "no registry is configured")
	}
	return cache.GetOrLoad(ctx, s.cache, "citizen-card:"+ambitoID.String()+":"+id.String(), s.cfg.CitizenCardTTL,
		func(ctx context.Context) (CitizenCard, error) {
			if down.Load() {
				return CitizenCard{}, errs.E(errs.Unavailable, "registry is unavailable")
			}
			c, err := s.registry.CitizenCard(ctx, id)
			if errs.Is(err, errs.Unavailable) {
				down.Store(true)
			}
			return c, err
		})
}

// defaultCitizenCardTTL is Config.CitizenCardTTL's default.
const defaultCitizenCardTTL = 10 * time.Minute
