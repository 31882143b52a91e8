package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/tools/internal/load"
	"github.com/csi-lombardia/csi/tools/internal/synth"
)

// target is one operation of the bench: how to make its requests and where its ramp starts.
type target struct {
	group   string // the table it belongs to
	name    string
	floor   string  // the floor operation it is compared with ("" = none)
	minRate float64 // a target of its own instead of the floor's ratio: at least this rate within the bound
	start   float64
	max     float64    // the ramp's ceiling (0 = the bench's, 5000/s)
	fresh   int        // the new data the operation spends, one per request (0 = it reuses its data)
	bound   load.Bound // zero = the bench's bound
	note    string
	warm    func(ctx context.Context) error // run before the ramp (fills the cache)
	op      load.Op
	tokens  bool   // needs fresh tokens: the bench operator's and the comuni's social workers' (set by the runner)
	service string // the service the operation measures, profiled when it lags its floor ("" = registry)
	// perRequest is how many items one request stores (a batch's visits; 0 = one): the targets
	// count items per second.
	perRequest int
	stmt       bool // the statement read: its target is its bound (p99 <= 100 ms)
}

// profiled is the service a target's profile is taken of.
func (t target) profiled() string {
	if t.service == "" {
		return "registry"
	}
	return t.service
}

// partitions of the shuffled imported citizens: each uncached operation reads ids no other
// operation has touched, so its every read misses the cache.
type partitions struct {
	hot                []citizen // read again and again: cached
	uncachedID, byCode []citizen // read once each
	search             []citizen
}

func split(all []citizen, hot int) partitions {
	rest := all[hot:]
	q := len(rest) / 3
	return partitions{hot: all[:hot], uncachedID: rest[:q], byCode: rest[q : 2*q], search: rest[2*q:]}
}

func pick(list []citizen, i int64) citizen { return list[int(i%int64(len(list)))] }

func bearer(req *http.Request, token *string) *http.Request {
	req.Header.Set("Authorization", "Bearer "+*token)
	return req
}

func jsonRequest(ctx context.Context, method, u string, body any) (*http.Request, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

// searchName is what an operator types: the family name with one letter dropped (a typo) and
// the given name.
func searchName(c citizen) string {
	family, given, _ := strings.Cut(c.Name, " ")
	if r := []rune(family); len(r) > 4 {
		family = string(r[:len(r)/2]) + string(r[len(r)/2+1:])
	}
	return family + " " + given
}

// createBody is the registry's create request for a synthetic person.
func createBody(p synth.Person, istat string) map[string]any {
	return map[string]any{"fiscal_code": p.FiscalCode, "family_name": p.FamilyName, "given_name": p.GivenName, "sex": p.Sex,
		"birth_date": p.BirthDate, "birth_place": map[string]string{"belfiore_code": p.BirthPlace}, "citizenship": p.Citizenship,
		"residence": map[string]string{"istat_code": istat, "address": p.Address, "postal_code": p.PostalCode}}
}

// floorBody is the floor's create request for the same person: the columns the registry
// derives, and the record as data.
func floorBody(p synth.Person, istat string) map[string]any {
	canonical := p.FiscalCode
	if c, err := codicefiscale.Parse(p.FiscalCode, nil); err == nil {
		canonical = c.Canonical
	}
	return map[string]any{"fiscal_code": p.FiscalCode, "fiscal_code_canonical": canonical, "family_name": p.FamilyName,
		"given_name": p.GivenName, "sex": p.Sex, "birth_date": p.BirthDate, "birth_belfiore": p.BirthPlace, "residence_istat": istat,
		"data": createBody(p, istat)}
}

// warmer reads every hot citizen once by id and by code, so that the cached operations hit.
func warmer(hc *http.Client, registryURL string, hot []citizen, token *string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		build := func(u func(i int64) (string, []byte)) func(context.Context, int64) (*http.Request, error) {
			return func(ctx context.Context, i int64) (*http.Request, error) {
				url, body := u(i)
				method := http.MethodGet
				if body != nil {
					method = http.MethodPost
				}
				req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
				if err != nil {
					return nil, err
				}
				if body != nil {
					req.Header.Set("Content-Type", "application/json")
				}
				return bearer(req, token), nil
			}
		}
		do := load.HTTP(hc, build(func(i int64) (string, []byte) { return registryURL + "/v1/citizens/" + pick(hot, i).ID.String(), nil }))
		code := load.HTTP(hc, build(func(i int64) (string, []byte) {
			b, _ := json.Marshal(map[string]string{"fiscal_code": pick(hot, i).FiscalCode})
			return registryURL + "/v1/citizens:search", b
		}))
		for i := range int64(len(hot)) {
			if _, err := do(ctx, i); err != nil {
				return err
			}
			if _, err := code(ctx, i); err != nil {
				return err
			}
		}
		return nil
	}
}

// freshAt is the i-th new resident, never one used before: past the end the load has run out
// (load.ErrNoData), which voids the ramp rather than sending a duplicate the server refuses.
func freshAt(list []synth.Person, i int64) (synth.Person, error) {
	if i < 0 || i >= int64(len(list)) {
		return synth.Person{}, fmt.Errorf("resident %d of %d: %w", i, len(list), load.ErrNoData)
	}
	return list[i], nil
}

// targets builds every operation of the bench.
func targets(hc *http.Client, identityURL, registryURL, floorURL string, cr credentials, parts partitions,
	fresh []synth.Person, istat string, token *string) []target {
	half := len(fresh) / 2
	suiteFresh, floorFresh := fresh[:half], fresh[half:]
	get := func(u func(i int64) string) func(context.Context, int64) (*http.Request, error) {
		return func(ctx context.Context, i int64) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u(i), nil)
			if err != nil {
				return nil, err
			}
			return bearer(req, token), nil
		}
	}
	post := func(u string, body func(i int64) any) func(context.Context, int64) (*http.Request, error) {
		return func(ctx context.Context, i int64) (*http.Request, error) {
			req, err := jsonRequest(ctx, http.MethodPost, u, body(i))
			if err != nil {
				return nil, err
			}
			return bearer(req, token), nil
		}
	}
	form := func(v url.Values) func(context.Context, int64) (*http.Request, error) {
		enc := v.Encode()
		return func(ctx context.Context, i int64) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, identityURL+"/v1/oauth/token", strings.NewReader(enc))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return req, nil
		}
	}
	byID := func(list []citizen) func(int64) string {
		return func(i int64) string { return registryURL + "/v1/citizens/" + pick(list, i).ID.String() }
	}
	byCode := func(list []citizen) func(int64) any {
		return func(i int64) any { return map[string]string{"fiscal_code": pick(list, i).FiscalCode} }
	}
	warm := warmer(hc, registryURL, parts.hot, token)
	once := func(list []citizen, what string) string {
		return "each request reads a citizen no request has read before (" + what + ", " + itoa(len(list)) + " available)"
	}
	return []target{
		{group: "tokens", name: "token: client credentials", start: 50, note: "identity; client secret checked, token signed (EdDSA)",
			op: load.Op{Do: load.HTTP(hc, form(url.Values{"grant_type": {"client_credentials"}, "client_id": {cr.clientID}, "client_secret": {cr.clientSecret}}))}},
		{group: "tokens", name: "token: password", start: 5, bound: load.Bound{P99: passwordP99, ErrorRate: 0.01},
			note: "identity; argon2id (19 MiB, 2 passes) per sign-in by design: bound p99 <= " + load.Millis(passwordP99) + ", not 25 ms",
			op:   load.Op{Do: load.HTTP(hc, form(url.Values{"grant_type": {"password"}, "username": {cr.user}, "password": {cr.password}}))}},

		{group: "citizen reads", name: "floor: read by id", start: 200, note: "csifloor: the registry's SELECT, no auth/audit/cache",
			op: load.Op{Do: load.HTTP(hc, get(func(i int64) string { return floorURL + "/citizens/" + pick(parts.uncachedID, i).ID.String() }))}},
		{group: "citizen reads", name: "read by id, cached", floor: "floor: read by id", start: 100, warm: warm, tokens: true,
			note: "the " + itoa(len(parts.hot)) + " hot citizens, read beforehand (Redis hit); audited",
			op:   load.Op{Do: load.HTTP(hc, get(byID(parts.hot)))}},
		{group: "citizen reads", name: "read by id, uncached", floor: "floor: read by id", start: 100, tokens: true,
			note: once(parts.uncachedID, "Redis miss, PostgreSQL, Redis set") + "; audited",
			op:   load.Op{Do: load.HTTP(hc, get(byID(parts.uncachedID)))}},
		{group: "citizen reads", name: "read by codice fiscale, cached", floor: "floor: read by id", start: 100, warm: warm, tokens: true,
			note: "POST /v1/citizens:search {fiscal_code} on the hot citizens (the records under the code in Redis: one lookup); audited",
			op:   load.Op{Do: load.HTTP(hc, post(registryURL+"/v1/citizens:search", byCode(parts.hot)))}},
		{group: "citizen reads", name: "read by codice fiscale, uncached", floor: "floor: read by id", start: 100, tokens: true,
			note: once(parts.byCode, "Redis miss, one PostgreSQL read, Redis set") + "; audited",
			op:   load.Op{Do: load.HTTP(hc, post(registryURL+"/v1/citizens:search", byCode(parts.byCode)))}},
		{group: "citizen reads", name: "household read", floor: "floor: read by id", start: 100, warm: warm, tokens: true,
			note: "GET /v1/citizens/{id}/household of the hot citizens (the citizen and its household in one PostgreSQL statement); audited",
			op:   load.Op{Do: load.HTTP(hc, get(func(i int64) string { return byID(parts.hot)(i) + "/household" }))}},
		{group: "citizen reads", name: "name search", floor: "floor: read by id", minRate: 100, start: 20, tokens: true,
			note: "POST /v1/citizens:search {name}: family name with a letter dropped + given name, whole ambito (names dictionary and posting lists); up to 20 hits, each audited",
			op: load.Op{Do: load.HTTP(hc, post(registryURL+"/v1/citizens:search", func(i int64) any {
				return map[string]string{"name": searchName(pick(parts.search, i))}
			}))}},

		{group: "citizen creates", name: "floor: insert", start: createStart, max: createMax, fresh: len(floorFresh),
			note: "csifloor: the registry's create transaction (code check, likely duplicates, 2 inserts, outbox row)",
			op: load.Op{Do: load.HTTP(hc, func(ctx context.Context, i int64) (*http.Request, error) {
				p, err := freshAt(floorFresh, i)
				if err != nil {
					return nil, err
				}
				return jsonRequest(ctx, http.MethodPost, floorURL+"/citizens", floorBody(p, istat))
			}, http.StatusCreated)}},
		{group: "citizen creates", name: "citizen create", floor: "floor: insert", start: createStart, max: createMax, fresh: len(suiteFresh), tokens: true,
			note: "POST /v1/citizens of new synthetic residents (codice fiscale decoded and checked, duplicates, outbox, audit; " + itoa(len(suiteFresh)) + " available, as many as the ramp can send)",
			op: load.Op{Do: load.HTTP(hc, func(ctx context.Context, i int64) (*http.Request, error) {
				p, err := freshAt(suiteFresh, i)
				if err != nil {
					return nil, err
				}
				return post(registryURL+"/v1/citizens", func(int64) any { return createBody(p, istat) })(ctx, i)
			}, http.StatusCreated)}},
	}
}
