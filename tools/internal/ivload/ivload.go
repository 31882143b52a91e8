// Package ivload is what the load tools (csibench, csichaos) need of interventions: their own
// cooperatives in identity (accredited for SAD, with educators, ASA and OSS and a machine client
// with visits:write), active authorizations made through interventions' API, and visits that
// never overlap: each request a slot of its own in a calendar of the cooperative's operators.
package ivload

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
	"github.com/jackc/pgx/v5"

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
// writes the same rows (a run of the bench starts by removing the last run's).
const (
	slotMinutes    = 15
	SlotsPerDay    = 64 // 06:00 to 22:00
	firstSlotHour  = 6
	writeFrom      = "2011-01-01" // the write authorizations' period
	writeTo        = "2024-12-31"
	WriteOperators = 60 // 30 educators, 18 ASA, 12 OSS
	writeAuths     = 60
	// StmtAuthorizations are the statement cooperative's authorizations, from StmtFrom to writeTo.
	StmtAuthorizations = 300
	StmtFrom           = "2012-01-01"
)

// Setup is what the interventions targets need: the bench cooperatives, their operators and
// authorizations, the write cooperative's machine client and the statement's reader.
type Setup struct {
	Ambito     uuid.UUID
	WriteCoop  uuid.UUID
	StmtCoop   uuid.UUID
	Operators  []uuid.UUID // the write cooperative's educators, ASA and OSS
	WriteAuths []AuthRef   // active, writeFrom..writeTo
	StmtAuths  []AuthRef   // active, of the statement cooperative
	ClientID   string      // the write cooperative's machine client (visits:write)
	Secret     string
	CoordEmail string
	CoordPass  string
}

// Prepare makes (or finds, on a later run) the bench cooperatives in identity,
// accredited for SAD, the write cooperative's operators and its machine client, the statement
// cooperative's coordinator, and the authorizations of both through interventions' API.
func Prepare(ctx context.Context, s *suite.Suite, seed uint64, logw io.Writer) (Setup, error) {
	c := idclient.New(s.URL("identity"), nil)
	admin := s.Demo().Admin()
	tok, err := c.SignIn(ctx, admin.Email, admin.Password, "")
	if err != nil {
		return Setup{}, fmt.Errorf("sign in as %s: %w", admin.Email, err)
	}
	c.SetToken(tok.AccessToken)
	var st Setup
	coops, err := c.Organizations(ctx, identity.OrgCooperativa)
	if err != nil {
		return st, fmt.Errorf("list cooperatives: %w", err)
	}
	ensure := func(name, tax string) (uuid.UUID, error) {
		for _, o := range coops {
			if o.Name == name {
				st.Ambito = o.AmbitoID
				return o.ID, nil
			}
		}
		o, err := c.CreateOrganization(ctx, identity.OrganizationInput{Kind: identity.OrgCooperativa, Name: name, TaxCode: partitaIVA(tax)})
		if err != nil {
			return uuid.Nil, fmt.Errorf("create the cooperative %s: %w", name, err)
		}
		st.Ambito = o.AmbitoID
		return o.ID, nil
	}
	if st.WriteCoop, err = ensure(writeCoopName, "0990000001"); err != nil {
		return st, err
	}
	if st.StmtCoop, err = ensure(stmtCoopName, "0990000002"); err != nil {
		return st, err
	}
	accs, err := c.Accreditations(ctx)
	if err != nil {
		return st, fmt.Errorf("list accreditations: %w", err)
	}
	for _, coop := range []uuid.UUID{st.WriteCoop, st.StmtCoop} {
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
	persons, err := synth.New(seed^0x1205, places.Default(), synth.Epoch).Comune(comuni[0], WriteOperators+1)
	if err != nil {
		return st, err
	}
	have, err := c.Operators(ctx, &st.WriteCoop, "")
	if err != nil {
		return st, fmt.Errorf("list the bench cooperative's operators: %w", err)
	}
	byEmail := map[string]uuid.UUID{}
	for _, o := range have {
		byEmail[o.Email] = o.ID
	}
	for i := range WriteOperators {
		role := auth.RoleEducator
		switch {
		case i >= 48:
			role = auth.RoleOSS
		case i >= 30:
			role = auth.RoleASA
		}
		email := fmt.Sprintf("bench.operatore%02d@demo.csi.example", i)
		if id, ok := byEmail[email]; ok {
			st.Operators = append(st.Operators, id)
			continue
		}
		p := persons[i]
		o, err := c.CreateOperator(ctx, identity.OperatorInput{FiscalCode: p.FiscalCode, GivenName: p.GivenName, FamilyName: p.FamilyName,
			Email: email, Profiles: []identity.ProfileInput{{OrganizationID: st.WriteCoop, Role: role, ValidFrom: accreditedFrom}}})
		if err != nil {
			return st, fmt.Errorf("create the bench operator %s: %w", email, err)
		}
		st.Operators = append(st.Operators, o.ID)
	}
	st.CoordEmail, st.CoordPass = stmtCoordinator, admin.Password
	coords, err := c.Operators(ctx, &st.StmtCoop, "bench.rendiconto")
	if err != nil {
		return st, fmt.Errorf("list the statement cooperative's operators: %w", err)
	}
	if len(coords) == 0 {
		p := persons[WriteOperators]
		if _, err := c.CreateOperator(ctx, identity.OperatorInput{FiscalCode: p.FiscalCode, GivenName: p.GivenName, FamilyName: p.FamilyName,
			Email: stmtCoordinator, Password: st.CoordPass,
			Profiles: []identity.ProfileInput{{OrganizationID: st.StmtCoop, Role: auth.RoleCoopCoordinator, ValidFrom: accreditedFrom}}}); err != nil {
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
			st.ClientID, st.Secret = r.ID.String(), r.Secret
		}
	}
	if st.ClientID == "" {
		r, err := c.CreateClient(ctx, identity.ClientInput{Name: benchClient, OrganizationID: &st.WriteCoop,
			Scopes: []string{"visits:write", "authorizations:read"}})
		if err != nil {
			return st, fmt.Errorf("create %s: %w", benchClient, err)
		}
		st.ClientID, st.Secret = r.ID.String(), r.Secret
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
	if st.WriteAuths, err = iv.ensureAuthorizations(ctx, st.WriteCoop, org.ISTATCode, writeAuths, writeFrom, writeTo, 168, logw); err != nil {
		return st, err
	}
	if st.StmtAuths, err = iv.ensureAuthorizations(ctx, st.StmtCoop, org.ISTATCode, StmtAuthorizations, StmtFrom, writeTo, 6, logw); err != nil {
		return st, err
	}
	return st, nil
}

// AuthRef is an authorization as the visits name it.
type AuthRef struct {
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
	logw io.Writer) ([]AuthRef, error) {
	var ids []AuthRef
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
				ids = append(ids, AuthRef{ID: it.ID, CitizenID: it.CitizenID})
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
		var au AuthRef
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

func clockOf(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// Calendar gives a target its own days: from first, as many as its ramp may fill.
type Calendar struct {
	First time.Time
	Days  int
}

// calendars splits the write authorizations' period between the write targets: each gets the
// days that visits (at most that many) fill at WriteOperators × SlotsPerDay a day.
func Calendars(visits ...int64) ([]Calendar, error) {
	at, _ := time.Parse(time.DateOnly, writeFrom)
	end, _ := time.Parse(time.DateOnly, writeTo)
	perDay := int64(WriteOperators * SlotsPerDay)
	var out []Calendar
	for _, v := range visits {
		days := int((v+perDay-1)/perDay) + 2 // the batches' last turn of groups may run a day over
		out = append(out, Calendar{First: at, Days: days})
		at = at.AddDate(0, 0, days)
	}
	if at.After(end) {
		return nil, fmt.Errorf("the write targets need %s days of visits up to %s, after the authorizations' last day %s: lower their ramps' ceilings",
			strconv.Itoa(int(at.Sub(out[0].First).Hours()/24)), at.Format(time.DateOnly), writeTo)
	}
	return out, nil
}

// VisitInput is the i-th visit of a calendar: the contract's VisitInput, operator i%ops at
// the operator's (i/ops)-th slot.
func (st Setup) VisitInput(cal Calendar, i int64) (map[string]any, error) {
	ops := int64(len(st.Operators))
	return st.VisitOf(cal, int(i%ops), i/ops)
}

// VisitOf is operator op's n-th visit of a calendar (its n-th quarter-hour slot), on the
// authorization the operator works on (op % the write authorizations).
func (st Setup) VisitOf(cal Calendar, op int, n int64) (map[string]any, error) {
	if n >= int64(cal.Days)*SlotsPerDay {
		return nil, fmt.Errorf("slot %d past the calendar's %d days: %w", n, cal.Days, load.ErrNoData)
	}
	day := cal.First.AddDate(0, 0, int(n/SlotsPerDay))
	m := firstSlotHour*60 + int(n%SlotsPerDay)*slotMinutes
	a := st.WriteAuths[op%len(st.WriteAuths)]
	return map[string]any{"authorization_id": a.ID, "operator_id": st.Operators[op], "date": day.Format(time.DateOnly),
		"start": clockOf(m), "end": clockOf(m + slotMinutes), "activities": []string{"personal_care"}, "place": "home", "notes": "",
		"absent": false}, nil
}

// FloorVisit is the floor's i-th visit of a calendar (FloorOf).
func (st Setup) FloorVisit(cal Calendar, i int64) (map[string]any, error) {
	ops := int64(len(st.Operators))
	return st.FloorOf(cal, int(i%ops), i/ops)
}

// FloorOf is the floor's visit of operator op's n-th slot: the input and the columns the
// service derives from the authorization (cooperative, service type, citizen) and from the
// caller (recorded_by).
func (st Setup) FloorOf(cal Calendar, op int, n int64) (map[string]any, error) {
	v, err := st.VisitOf(cal, op, n)
	if err != nil {
		return nil, err
	}
	a := st.WriteAuths[op%len(st.WriteAuths)]
	v["cooperative_id"], v["service_type"], v["citizen_id"] = st.WriteCoop, "SAD", a.CitizenID
	v["recorded_by"] = map[string]any{"id": st.ClientID, "role": "client", "org_id": st.WriteCoop}
	return v, nil
}

// BatchGroups is how many groups of operators (and so of authorizations: operator op works on
// authorization op) the batches take turns on: consecutive batches touch disjoint
// authorizations, as the systems of different cooperatives would, since a batch locks its
// authorizations (FOR UPDATE) until it commits.
const BatchGroups = 6

// BatchSlot is the operator and slot of the j-th visit of the batch-th batch of size visits
// over ops operators: the batch's group's operators in turn, each its next slots.
func BatchSlot(batch int64, j, size, ops int) (op int, n int64) {
	per := ops / BatchGroups
	g := int(batch % BatchGroups)
	return g*per + j%per, (batch/BatchGroups)*int64((size+per-1)/per) + int64(j/per)
}

// ResetVisits removes the visits an earlier run wrote for the write cooperative (through the
// service and the floor), so that this run's calendars are free again. The service never
// deletes a visit; the load tools do, in their own databases, with the triggers off (as the
// servers' superuser, which the tools' private servers make them; otherwise with the triggers).
// It returns how many it removed.
func ResetVisits(ctx context.Context, dbURL string, coop uuid.UUID) (int64, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, fmt.Errorf("connect to interventions' database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	del := func(replica bool) (int64, error) {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return 0, err
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
		if replica {
			if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
				return 0, err
			}
		}
		tag, err := tx.Exec(ctx, `DELETE FROM visits WHERE cooperative_id = $1`, coop)
		if err != nil {
			return 0, err
		}
		return tag.RowsAffected(), tx.Commit(ctx)
	}
	// With the triggers off first: the foreign key replaces -> visits(id) has no index on
	// replaces, so its per-row check reads the whole table for every row deleted.
	n, err := del(true)
	if err != nil {
		if n, err = del(false); err != nil {
			return 0, fmt.Errorf("remove the last run's visits: %w", err)
		}
	}
	if n > 0 {
		_, _ = conn.Exec(ctx, `VACUUM (ANALYZE) visits`)
	}
	return n, nil
}

// partitaIVA is the 10 digits given with their check digit (codicefiscale.ValidateNumeric).
func partitaIVA(first10 string) string {
	sum := 0
	for i, c := range first10 {
		d := int(c - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return first10 + strconv.Itoa((10-sum%10)%10)
}
