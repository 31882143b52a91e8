package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
	"github.com/csi-lombardia/csi/tools/internal/load"
	"github.com/csi-lombardia/csi/tools/internal/suite"
	"github.com/csi-lombardia/csi/tools/internal/synth"
)

// The bench's own cooperatives (identity's demo cooperatives are the demo's, and make run's
// three months of demo visits are theirs): one whose system writes visits, one whose month's
// statement is read.
const (
	writeCoopName = "Cooperativa Bench Visite"
	stmtCoopName  = "Cooperativa Bench Rendiconto"
	benchClient   = "Bench visits client"
	// stmtCoordinator reads the statement cooperative's statements (a coop_coordinator).
	stmtCoordinator = "bench.rendiconto@demo.csi.example"
	// accreditedFrom is the bench accreditations' first day: every bench authorization's
	// period, and so every visit, is after it.
	accreditedFrom = "2010-01-01"
	benchTariff    = 2150 // euro cents an hour
)

// The visits' calendar. Every visit the bench writes is a slot of its own: operator i%ops, the
// (i/ops)-th quarter of an hour from 06:00 to 22:00 of the days after the target's first day,
// so no two overlap (the overlap rule never refuses the bench's own requests) and every run
// writes the same rows (the run starts by removing the last run's: benchVisitsReset).
const (
	slotMinutes    = 15
	slotsPerDay    = 64 // 06:00 to 22:00
	firstSlotHour  = 6
	writeFrom      = "2011-01-01" // the write authorizations' period
	writeTo        = "2024-12-31"
	writeOperators = 60 // 30 educators, 18 ASA, 12 OSS
	writeAuths     = 60
	stmtAuths      = 300
)

// ivSetup is what the interventions targets need: the bench cooperatives, their operators and
// authorizations, the write cooperative's machine client and the statement's reader.
type ivSetup struct {
	ambito     uuid.UUID
	writeCoop  uuid.UUID
	stmtCoop   uuid.UUID
	operators  []uuid.UUID // the write cooperative's educators, ASA and OSS
	writeAuths []authRef   // active, writeFrom..writeTo
	stmtAuths  []authRef   // active, of the statement cooperative
	clientID   string      // the write cooperative's machine client (visits:write)
	secret     string
	coordEmail string
	coordPass  string
}

// prepareInterventions makes (or finds, on a later run) the bench cooperatives in identity,
// accredited for SAD, the write cooperative's operators and its machine client, the statement
// cooperative's coordinator, and the authorizations of both through interventions' API.
func prepareInterventions(ctx context.Context, s *suite.Suite, seed uint64, logw io.Writer) (ivSetup, error) {
	c := idclient.New(s.URL("identity"), nil)
	admin := s.Demo().Admin()
	tok, err := c.SignIn(ctx, admin.Email, admin.Password, "")
	if err != nil {
		return ivSetup{}, fmt.Errorf("sign in as %s: %w", admin.Email, err)
	}
	c.SetToken(tok.AccessToken)
	var st ivSetup
	coops, err := c.Organizations(ctx, identity.OrgCooperativa)
	if err != nil {
		return st, fmt.Errorf("list cooperatives: %w", err)
	}
	ensure := func(name string) (uuid.UUID, error) {
		for _, o := range coops {
			if o.Name == name {
				st.ambito = o.AmbitoID
				return o.ID, nil
			}
		}
		o, err := c.CreateOrganization(ctx, identity.OrganizationInput{Kind: identity.OrgCooperativa, Name: name})
		if err != nil {
			return uuid.Nil, fmt.Errorf("create the cooperative %s: %w", name, err)
		}
		st.ambito = o.AmbitoID
		return o.ID, nil
	}
	if st.writeCoop, err = ensure(writeCoopName); err != nil {
		return st, err
	}
	if st.stmtCoop, err = ensure(stmtCoopName); err != nil {
		return st, err
	}
	accs, err := c.Accreditations(ctx)
	if err != nil {
		return st, fmt.Errorf("list accreditations: %w", err)
	}
	for _, coop := range []uuid.UUID{st.writeCoop, st.stmtCoop} {
		found := false
		for _, a := range accs {
			found = found || a.CooperativeID == coop && a.ServiceType == "SAD"
		}
		if !found {
			if _, err := c.CreateAccreditation(ctx, identity.AccreditationInput{CooperativeID: coop, ServiceType: "SAD",
				ValidFrom: accreditedFrom, HourlyTariffCents: benchTariff}); err != nil {
				return st, fmt.Errorf("accredit the bench cooperative %s for SAD: %w", coop, err)
			}
		}
	}

	// The operators, with codes of their own generator (never the citizens' of the import).
	comuni, err := synth.DemoComuni(places.Default())
	if err != nil {
		return st, err
	}
	persons, err := synth.New(seed^0x1205, places.Default(), today).Comune(comuni[0], writeOperators+1)
	if err != nil {
		return st, err
	}
	have, err := c.Operators(ctx, &st.writeCoop, "")
	if err != nil {
		return st, fmt.Errorf("list the bench cooperative's operators: %w", err)
	}
	byEmail := map[string]uuid.UUID{}
	for _, o := range have {
		byEmail[o.Email] = o.ID
	}
	for i := range writeOperators {
		role := auth.RoleEducator
		switch {
		case i >= 48:
			role = auth.RoleOSS
		case i >= 30:
			role = auth.RoleASA
		}
		email := fmt.Sprintf("bench.operatore%02d@demo.csi.example", i)
		if id, ok := byEmail[email]; ok {
			st.operators = append(st.operators, id)
			continue
		}
		p := persons[i]
		o, err := c.CreateOperator(ctx, identity.OperatorInput{FiscalCode: p.FiscalCode, GivenName: p.GivenName, FamilyName: p.FamilyName,
			Email: email, Profiles: []identity.ProfileInput{{OrganizationID: st.writeCoop, Role: role, ValidFrom: accreditedFrom}}})
		if err != nil {
			return st, fmt.Errorf("create the bench operator %s: %w", email, err)
		}
		st.operators = append(st.operators, o.ID)
	}
	st.coordEmail, st.coordPass = stmtCoordinator, admin.Password
	coords, err := c.Operators(ctx, &st.stmtCoop, "bench.rendiconto")
	if err != nil {
		return st, fmt.Errorf("list the statement cooperative's operators: %w", err)
	}
	if len(coords) == 0 {
		p := persons[writeOperators]
		if _, err := c.CreateOperator(ctx, identity.OperatorInput{FiscalCode: p.FiscalCode, GivenName: p.GivenName, FamilyName: p.FamilyName,
			Email: stmtCoordinator, Password: st.coordPass,
			Profiles: []identity.ProfileInput{{OrganizationID: st.stmtCoop, Role: auth.RoleCoopCoordinator, ValidFrom: accreditedFrom}}}); err != nil {
			return st, fmt.Errorf("create the statement cooperative's coordinator: %w", err)
		}
	}

	// The write cooperative's machine client: the secret is shown once, so a client made by an
	// earlier run gets a new one.
	clients, err := c.Clients(ctx)
	if err != nil {
		return st, fmt.Errorf("list clients: %w", err)
	}
	for _, cl := range clients {
		if cl.Name == benchClient {
			r, err := c.RotateClientSecret(ctx, cl.ID)
			if err != nil {
				return st, fmt.Errorf("new secret of %s: %w", benchClient, err)
			}
			st.clientID, st.secret = r.ID.String(), r.Secret
		}
	}
	if st.clientID == "" {
		r, err := c.CreateClient(ctx, identity.ClientInput{Name: benchClient, OrganizationID: &st.writeCoop,
			Scopes: []string{"visits:write", "authorizations:read"}})
		if err != nil {
			return st, fmt.Errorf("create %s: %w", benchClient, err)
		}
		st.clientID, st.secret = r.ID.String(), r.Secret
	}

	// The authorizations, by the demo service manager of the first comune.
	sm, ok := s.Demo().DemoUser(auth.RoleServiceManager)
	if !ok {
		return st, errors.New("the demo data has no service manager")
	}
	org, _ := s.Demo().Org(sm.OrgKey)
	smTok, err := idclient.New(s.URL("identity"), nil).SignIn(ctx, sm.Email, sm.Password, "")
	if err != nil {
		return st, fmt.Errorf("sign in as %s: %w", sm.Email, err)
	}
	iv := ivAPI{base: s.URL("interventions"), token: smTok.AccessToken}
	if st.writeAuths, err = iv.ensureAuthorizations(ctx, st.writeCoop, org.ISTATCode, writeAuths, writeFrom, writeTo, 168, logw); err != nil {
		return st, err
	}
	if st.stmtAuths, err = iv.ensureAuthorizations(ctx, st.stmtCoop, org.ISTATCode, stmtAuths, fillFrom, writeTo, 6, logw); err != nil {
		return st, err
	}
	return st, nil
}

// authRef is an authorization as the visits name it.
type authRef struct {
	ID        uuid.UUID `json:"id"`
	CitizenID uuid.UUID `json:"citizen_id"`
}

// ivAPI calls interventions as one operator.
type ivAPI struct {
	base, token string
	hc          *http.Client
}

func (a ivAPI) do(ctx context.Context, method, path string, in, out any, want int) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := a.hc
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d: %.300s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// ensureAuthorizations returns n active SAD authorizations of coop with the period given,
// creating and activating those an earlier run did not leave.
func (a ivAPI) ensureAuthorizations(ctx context.Context, coop uuid.UUID, istat string, n int, from, to string, perWeek float64,
	logw io.Writer) ([]authRef, error) {
	var ids []authRef
	cur := ""
	for {
		q := url.Values{"cooperative_id": {coop.String()}, "status": {"active"}, "limit": {"200"}}
		if cur != "" {
			q.Set("cursor", cur)
		}
		var page struct {
			Items []struct {
				ID        uuid.UUID `json:"id"`
				CitizenID uuid.UUID `json:"citizen_id"`
				Period    struct{ From, To string }
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		if err := a.do(ctx, http.MethodGet, "/v1/authorizations?"+q.Encode(), nil, &page, http.StatusOK); err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			if it.Period.From == from && it.Period.To == to {
				ids = append(ids, authRef{ID: it.ID, CitizenID: it.CitizenID})
			}
		}
		if cur = page.NextCursor; cur == "" {
			break
		}
	}
	if len(ids) < n {
		fmt.Fprintf(logw, "==> creating %d authorizations of %s through POST /v1/authorizations\n", n-len(ids), coop)
	}
	for len(ids) < n {
		var au authRef
		in := map[string]any{"istat_code": istat, "case_id": uuid.New(), "citizen_id": uuid.New(), "service_type": "SAD",
			"cooperative_id": coop, "period": map[string]any{"from": from, "to": to}, "hours": map[string]any{"per_week": perWeek},
			"schedule": []map[string]any{{"weekday": "mon", "from": "09:00", "to": "11:00"}}}
		if err := a.do(ctx, http.MethodPost, "/v1/authorizations", in, &au, http.StatusCreated); err != nil {
			return nil, err
		}
		if err := a.do(ctx, http.MethodPost, "/v1/authorizations/"+au.ID.String()+"/status",
			map[string]any{"status": "active", "reason": "bench"}, nil, http.StatusOK); err != nil {
			return nil, err
		}
		ids = append(ids, au)
	}
	return ids[:n], nil
}

// slot is the i-th visit's operator and time in a calendar of ops operators from day first on.
func slot(first time.Time, ops int, i int64) (op int, date, start, end string) {
	op = int(i % int64(ops))
	n := i / int64(ops)
	day := first.AddDate(0, 0, int(n/slotsPerDay))
	m := firstSlotHour*60 + int(n%slotsPerDay)*slotMinutes
	return op, day.Format(time.DateOnly), clockOf(m), clockOf(m + slotMinutes)
}

func clockOf(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// visitCalendar gives a target its own days: from first, as many as its ramp may fill.
type visitCalendar struct {
	first time.Time
	days  int
}

// calendars splits the write authorizations' period between the write targets: each gets the
// days that visits (at most that many) fill at writeOperators × slotsPerDay a day.
func calendars(visits ...int64) ([]visitCalendar, error) {
	at, _ := time.Parse(time.DateOnly, writeFrom)
	end, _ := time.Parse(time.DateOnly, writeTo)
	perDay := int64(writeOperators * slotsPerDay)
	var out []visitCalendar
	for _, v := range visits {
		days := int((v + perDay - 1) / perDay)
		out = append(out, visitCalendar{first: at, days: days})
		at = at.AddDate(0, 0, days)
	}
	if at.After(end) {
		return nil, fmt.Errorf("the write targets need %s days of visits up to %s, after the authorizations' last day %s: lower their ramps' ceilings",
			strconv.Itoa(int(at.Sub(out[0].first).Hours()/24)), at.Format(time.DateOnly), writeTo)
	}
	return out, nil
}

// batchSize is the visits of one POST /v1/visits:batch (the contract's most).
const batchSize = 1000

// ivTokens are the interventions targets' tokens: the write cooperative's machine client's and
// the statement cooperative's coordinator's. The pointers are made once; refresh writes
// through them between ramps, while no request runs.
type ivTokens struct{ client, coord *string }

func (t ivTokens) refresh(ctx context.Context, s *suite.Suite, st ivSetup) error {
	c := idclient.New(s.URL("identity"), nil)
	tok, err := c.ClientCredentials(ctx, st.clientID, st.secret)
	if err != nil {
		return fmt.Errorf("token of %s: %w", benchClient, err)
	}
	*t.client = tok.AccessToken
	if tok, err = c.SignIn(ctx, st.coordEmail, st.coordPass, ""); err != nil {
		return fmt.Errorf("sign in as %s: %w", st.coordEmail, err)
	}
	*t.coord = tok.AccessToken
	return nil
}

// visitInput is the i-th visit of a calendar: the contract's VisitInput.
func (st ivSetup) visitInput(cal visitCalendar, i int64) (map[string]any, error) {
	op, date, start, end := slot(cal.first, len(st.operators), i)
	if i >= int64(cal.days)*int64(len(st.operators))*slotsPerDay {
		return nil, fmt.Errorf("visit %d past the calendar's %d days: %w", i, cal.days, load.ErrNoData)
	}
	a := st.writeAuths[int(i%int64(len(st.writeAuths)))]
	return map[string]any{"authorization_id": a.ID, "operator_id": st.operators[op], "date": date, "start": start, "end": end,
		"activities": []string{"personal_care"}, "place": "home", "notes": "", "absent": false}, nil
}

// floorVisit is the floor's visit: the input and the columns the service derives from the
// authorization (cooperative, service type, citizen) and from the caller (recorded_by).
func (st ivSetup) floorVisit(cal visitCalendar, i int64) (map[string]any, error) {
	v, err := st.visitInput(cal, i)
	if err != nil {
		return nil, err
	}
	a := st.writeAuths[int(i%int64(len(st.writeAuths)))]
	v["ambito_id"], v["cooperative_id"], v["service_type"], v["citizen_id"] = st.ambito, st.writeCoop, "SAD", a.CitizenID
	v["recorded_by"] = map[string]any{"id": st.clientID, "role": "client", "org_id": st.writeCoop}
	return v, nil
}

// batchResult is what the bench reads of a batch's answer.
type batchResult struct {
	Stored  int `json:"stored"`
	Failed  int `json:"failed"`
	Results []struct {
		Index   int             `json:"index"`
		Status  int             `json:"status"`
		Problem json.RawMessage `json:"problem"`
	} `json:"results"`
}

// postBatch sends the batch of visits first..first+batchSize-1 of body to url and checks that
// every one was stored: an item refused is the bench's own doing (a 422 that voids the ramp).
func postBatch(ctx context.Context, hc *http.Client, url string, token *string, body func(int64) (map[string]any, error), first int64,
	want int) (int, error) {
	items := make([]map[string]any, 0, batchSize)
	for k := range int64(batchSize) {
		v, err := body(first + k)
		if err != nil {
			return 0, err
		}
		items = append(items, v)
	}
	req, err := jsonRequest(ctx, http.MethodPost, url, map[string]any{"visits": items})
	if err != nil {
		return 0, err
	}
	if token != nil {
		req.Header.Set("Authorization", "Bearer "+*token)
	}
	req.Header.Set("Idempotency-Key", uuid.NewString())
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != want {
		return resp.StatusCode, fmt.Errorf("status %d: %.300s", resp.StatusCode, b)
	}
	var r batchResult
	if err := json.Unmarshal(b, &r); err != nil {
		return resp.StatusCode, fmt.Errorf("the batch's answer: %w", err)
	}
	if r.Stored != batchSize || r.Failed != 0 {
		msg := ""
		for _, it := range r.Results {
			if it.Status >= 300 {
				msg = fmt.Sprintf("item %d: %d %.300s", it.Index, it.Status, it.Problem)
				break
			}
		}
		return http.StatusUnprocessableEntity, fmt.Errorf("the batch stored %d of %d visits: %s", r.Stored, batchSize, msg)
	}
	return resp.StatusCode, nil
}

// The interventions ramps' shapes: the batch ramp counts batches of 1,000 visits (50/s is the
// target's 50,000 visits/s), its bound is p99 <= 2 s (a batch is one request of 1,000 rows: 25 ms
// cannot hold, the figure is visits stored per second); the statement read's bound is its
// target, p99 <= 100 ms.
const (
	batchStart, batchMax = 1, 100
	batchP99             = 2 * time.Second
	singleStart          = 50
	singleMax            = 3000
	stmtP99              = 100 * time.Millisecond
)

// ivRamps are the ramps of the write targets, to size their calendars before they run.
func ivCalendars(step time.Duration) ([]visitCalendar, error) {
	b := benchRamp(batchStart, batchMax, step, load.Bound{}).MaxRequests() * batchSize
	s := benchRamp(singleStart, singleMax, step, load.Bound{}).MaxRequests()
	return calendars(b, b, s, s)
}

// interventionsTargets are interventions' operations: visits through visits:batch and one at
// a time, each beside its floor, and a month's statement over the filled table.
func interventionsTargets(hc *http.Client, ivURL, floorURL string, st ivSetup, cals []visitCalendar, tok ivTokens, fill int64) []target {
	batch := func(url string, token *string, cal visitCalendar, body func(visitCalendar, int64) (map[string]any, error), want int) load.Op {
		return load.Op{Do: func(ctx context.Context, i int64) (int, error) {
			return postBatch(ctx, hc, url, token, func(k int64) (map[string]any, error) { return body(cal, k) }, i*batchSize, want)
		}}
	}
	single := func(url string, token *string, cal visitCalendar, body func(visitCalendar, int64) (map[string]any, error)) load.Op {
		return load.Op{Do: load.HTTP(hc, func(ctx context.Context, i int64) (*http.Request, error) {
			v, err := body(cal, i)
			if err != nil {
				return nil, err
			}
			req, err := jsonRequest(ctx, http.MethodPost, url, v)
			if err != nil {
				return nil, err
			}
			if token != nil {
				req.Header.Set("Authorization", "Bearer "+*token)
			}
			req.Header.Set("Idempotency-Key", uuid.NewString())
			return req, nil
		}, http.StatusCreated)}
	}
	bb := load.Bound{P99: batchP99, ErrorRate: 0.01}
	perDay := itoa(len(st.operators) * slotsPerDay)
	stmtURL := ivURL + "/v1/statements/" + st.stmtCoop.String() + "/" + stmtMonth
	return []target{
		{group: "interventions: visits through visits:batch", name: "floor: visits batch", start: batchStart, max: batchMax, bound: bb, perRequest: batchSize,
			note: "csifloor: the store's batch transaction for 1,000 visits (the same statements), no auth/validation/audit/identity/cache; req/s are batches/s",
			op:   batch(floorURL+"/visits:batch", nil, cals[1], st.floorVisit, http.StatusOK)},
		{group: "interventions: visits through visits:batch", name: "visits batch", floor: "floor: visits batch", start: batchStart, max: batchMax, bound: bb,
			perRequest: batchSize, minRate: 50, tokens: true, service: "interventions",
			note: "POST /v1/visits:batch of 1,000 new visits (Idempotency-Key), by the bench cooperative's machine client (visits:write): " +
				itoa(len(st.operators)) + " operators × " + perDay + " quarter-hour slots a day over " + itoa(len(st.writeAuths)) +
				" active authorizations, so that no visit overlaps another; every item must be stored (an item refused voids the ramp); req/s are batches/s",
			op: batch(ivURL+"/v1/visits:batch", tok.client, cals[0], st.visitInput, http.StatusOK)},
		{group: "interventions: single visits", name: "floor: visit create", start: singleStart, max: singleMax,
			note: "csifloor: the store's transaction for one visit (the same statements), no auth/validation/audit/identity/cache",
			op:   single(floorURL+"/visits", nil, cals[3], st.floorVisit)},
		{group: "interventions: single visits", name: "visit create", floor: "floor: visit create", start: singleStart, max: singleMax, tokens: true,
			service: "interventions",
			note: "POST /v1/visits of a new visit (Idempotency-Key) by the bench cooperative's machine client: the operator checked against identity (cached), " +
				"the authorization's period and status, overlap, the month's lock, excess hours, outbox, audit",
			op: single(ivURL+"/v1/visits", tok.client, cals[2], st.visitInput)},
		{group: "interventions: statements", name: "statement read", start: 5, max: 500, bound: load.Bound{P99: stmtP99, ErrorRate: 0.01}, tokens: true,
			service: "interventions", stmt: true,
			note: "GET /v1/statements/{cooperative}/" + stmtMonth + " by the cooperative's coordinator: " + itoa(len(st.stmtAuths)) +
				" active authorizations, the month's visits among the " + strconv.FormatInt(fill, 10) + " of the table (the fill: 20 cooperatives × 300 authorizations, 380 operators, 8 visits a day each)",
			op: load.Op{Do: load.HTTP(hc, func(ctx context.Context, i int64) (*http.Request, error) {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, stmtURL, nil)
				if err != nil {
					return nil, err
				}
				req.Header.Set("Authorization", "Bearer "+*tok.coord)
				return req, nil
			})}},
	}
}
