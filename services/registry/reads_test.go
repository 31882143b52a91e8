package registry_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/services/registry"
)

// body returns the body of a checked answer (the contract client has read it).
func body(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// canonical re-encodes b as json.Marshal writes a v, with json.Encoder's line break: what the
// API answered before records were served as the bytes that were cached.
func canonical[T any](t *testing.T, b []byte) string {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(out) + "\n"
}

// TestCachedReadsServeTheRecord: a citizen read through the cache (in-process or Redis), by id
// or by codice fiscale, answers the same bytes as on the read that filled it, and those bytes
// are the record's JSON as the API encodes it; a change is seen by both reads at once.
func TestCachedReadsServeTheRecord(t *testing.T) {
	url := os.Getenv("CSI_TEST_REDIS_URL")
	if url == "" {
		t.Fatal("CSI_TEST_REDIS_URL is not set: run the tests with 'make test', which starts Redis")
	}
	for _, c := range []struct{ name, url string }{{"in-process", ""}, {"redis", url}} {
		t.Run(c.name, func(t *testing.T) {
			s := newSuite(t, options{redisURL: c.url})
			tok := s.Tokens[auth.RoleSocialWorker]
			cr := s.createCitizen(tok, citizenBody(milano))
			path := "/v1/citizens/" + cr.ID.String()
			search := map[string]any{"fiscal_code": cr.FiscalCode}

			var reads, searches [2][]byte
			for i := range 2 { // a miss, then a hit
				resp := s.Do("GET", path, tok, nil, nil)
				s.Must(200, resp)
				if got := resp.Header.Get("ETag"); got != `"1"` {
					t.Errorf("read %d: ETag %s, want \"1\"", i, got)
				}
				reads[i] = body(t, resp)
				resp = s.Do("POST", "/v1/citizens:search", tok, search, nil)
				s.Must(200, resp)
				searches[i] = body(t, resp)
			}
			if d := cmp.Diff(string(reads[1]), string(reads[0])); d != "" {
				t.Errorf("cached read differs from the first (-hit +miss):\n%s", d)
			}
			if d := cmp.Diff(string(reads[1]), canonical[registry.Citizen](t, reads[1])); d != "" {
				t.Errorf("cached read is not the record's encoding (-got +want):\n%s", d)
			}
			if d := cmp.Diff(string(searches[1]), string(searches[0])); d != "" {
				t.Errorf("cached search differs from the first (-hit +miss):\n%s", d)
			}
			if d := cmp.Diff(string(searches[1]), canonical[cursor.Page[registry.Hit]](t, searches[1])); d != "" {
				t.Errorf("cached search is not the page's encoding (-got +want):\n%s", d)
			}
			var page cursor.Page[registry.Hit]
			if err := json.Unmarshal(searches[1], &page); err != nil || len(page.Items) != 1 || page.Items[0].Score != 1 {
				t.Errorf("search by code = %s (%v), want the citizen with score 1", searches[1], err)
			}

			// A change drops both: the next reads, by id and by code, see it.
			s.Must(200, s.Do("PATCH", path, tok, map[string]any{"phone": "02 1234"}, nil, "If-Match", `"1"`))
			var got registry.Citizen
			resp := s.Do("GET", path, tok, nil, &got)
			s.Must(200, resp)
			if got.Phone != "02 1234" || resp.Header.Get("ETag") != `"2"` {
				t.Errorf("read after the change: phone %q, ETag %s; want the change, \"2\"", got.Phone, resp.Header.Get("ETag"))
			}
			s.Must(200, s.Do("POST", "/v1/citizens:search", tok, search, &page))
			if len(page.Items) != 1 || page.Items[0].Phone != "02 1234" || page.Items[0].Version != 2 {
				t.Errorf("search by code after the change = %+v", page.Items)
			}
		})
	}
}

// TestHouseholdRead: the household read answers for the citizens the caller sees only, and
// for a citizen without a household with no members.
func TestHouseholdRead(t *testing.T) {
	s := newSuite(t, options{})
	sw := s.Tokens[auth.RoleSocialWorker]
	azienda := s.Operator(auth.RoleSocialWorker, uuid.New(), "azienda", "")
	head := s.createCitizen(sw, citizenBody(milano))
	alone := s.createCitizen(sw, citizenBody(milano))
	other := s.createCitizen(azienda, citizenBody(bergamo))
	for _, rel := range []string{"spouse", "child"} {
		m := s.createCitizen(sw, citizenBody(milano))
		s.Must(201, s.Do("POST", "/v1/citizens/"+head.ID.String()+"/household/members", sw, map[string]any{"citizen_id": m.ID, "relationship": rel}, nil))
	}
	tests := []struct {
		name    string
		id      uuid.UUID
		token   string
		status  int
		members int
	}{
		{"a household of three", head.ID, sw, 200, 3},
		{"no household", alone.ID, sw, 200, 0},
		{"another comune's resident", other.ID, sw, 404, 0},
		{"the whole ambito sees them", other.ID, azienda, 200, 0},
		{"no such citizen", uuid.Must(uuid.NewV7()), sw, 404, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h registry.Household
			s.Must(tc.status, s.Do("GET", "/v1/citizens/"+tc.id.String()+"/household", tc.token, nil, &h))
			if len(h.Members) != tc.members {
				t.Errorf("members = %+v, want %d", h.Members, tc.members)
			}
			if tc.members > 0 && (h.ID == nil || h.Members[0].Relationship != "head" || h.Members[0].CitizenID != head.ID) {
				t.Errorf("household = %+v, want the head first", h)
			}
		})
	}
}
