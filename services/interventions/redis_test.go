package interventions_test

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/services/interventions"
)

// TestRedisDown: with Redis unreachable every answer is what it is with Redis up — the
// accreditation check of a create, the operator check of a visit, a cooperative's read with the
// citizen card — only identity and registry are asked more often (the cache misses); nothing is
// lost or refused.
func TestRedisDown(t *testing.T) {
	url := os.Getenv("CSI_TEST_REDIS_URL")
	if url == "" {
		t.Fatal("CSI_TEST_REDIS_URL is not set: run the tests with 'make test', which starts Redis")
	}
	type answers struct {
		Status   interventions.Status
		Card     string
		Stored   int
		Excess   int
		Listed   int
		Minutes  int
		Versions int64
	}
	got := map[string]answers{}
	for _, c := range []struct{ name, url string }{{"redis up", url}, {"redis down", "redis://127.0.0.1:1"}} {
		t.Run(c.name, func(t *testing.T) {
			s := newSuite(t, func(s *suite) { s.redisURL = c.url })
			sm, coord := s.tok(auth.RoleServiceManager), s.tok(auth.RoleCoopCoordinator)
			var a interventions.Authorization
			for i := 0; i < 2; i++ { // the second create's accreditation check: a hit with Redis
				a = s.create(sm, s.body())
			}
			s.Must(200, s.Do("POST", "/v1/authorizations/"+a.ID.String()+"/status", sm, map[string]any{"status": "active", "reason": "PAI"}, &a))
			educator, _ := s.staff(auth.RoleEducator, s.Coop)
			var batch struct {
				Stored  int `json:"stored"`
				Results []struct {
					Visit interventions.Visit `json:"visit"`
				} `json:"results"`
			}
			for _, day := range []string{"2025-05-05", "2025-05-06"} { // the second: the operator's profiles cached
				s.Must(200, s.Do("POST", "/v1/visits:batch", coord, map[string]any{"visits": []any{
					visitBody(a, educator, day, "09:00", "10:30")}}, &batch, "Idempotency-Key", "redis-"+day))
			}
			var read interventions.Authorization
			for i := 0; i < 2; i++ {
				s.Must(200, s.Do("GET", "/v1/authorizations/"+a.ID.String(), coord, nil, &read))
			}
			card := ""
			if read.Citizen != nil {
				card = read.Citizen.FamilyName + " " + read.Citizen.GivenName
			}
			var page struct {
				Items []interventions.Visit `json:"items"`
			}
			s.Must(200, s.Do("GET", "/v1/visits?authorization_id="+a.ID.String(), coord, nil, &page))
			minutes := 0
			for _, v := range page.Items {
				minutes += v.Minutes
			}
			got[c.name] = answers{Status: read.Status, Card: card, Stored: batch.Stored, Excess: batch.Results[0].Visit.ExcessMinutes,
				Listed: len(page.Items), Minutes: minutes, Versions: read.Version}
			s.identity.mu.Lock()
			accCalls, opCalls := s.identity.calls, s.identity.operatorCalls
			s.identity.mu.Unlock()
			s.registry.mu.Lock()
			cardCalls := s.registry.calls
			s.registry.mu.Unlock()
			t.Logf("identity asked %d times for accreditations, %d for operators; registry %d for cards", accCalls, opCalls, cardCalls)
			if c.name == "redis up" && (accCalls != 1 || opCalls != 1 || cardCalls != 1) {
				// create, create and activation hit the cache; one operator; one card
				t.Errorf("with Redis up: %d accreditation, %d operator, %d card calls; want the cache to answer the repeats", accCalls, opCalls, cardCalls)
			}
			if c.name == "redis down" && (accCalls < 3 || opCalls < 2 || cardCalls < 2) {
				t.Errorf("with Redis down: %d accreditation, %d operator, %d card calls; want every check asked again", accCalls, opCalls, cardCalls)
			}
		})
	}
	if diff := cmp.Diff(got["redis up"], got["redis down"]); diff != "" {
		t.Errorf("answers with Redis down differ from Redis up (-up +down):\n%s", diff)
	}
	if up := got["redis up"]; up.Stored != 1 || up.Listed != 2 || up.Minutes != 180 || up.Card == "" || up.Status != interventions.StatusActive {
		t.Errorf("answers = %+v", up)
	}
}
