package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/services/intake"
	"github.com/csi-lombardia/csi/services/interventions/client"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
)

// CoopClientScopes are the scopes of a demo cooperative's machine client: its management
// system reads its authorizations, records its visits and submits its statements.
var CoopClientScopes = []string{client.ScopeAuthorizationsRead, client.ScopeVisitsRead, client.ScopeVisitsWrite,
	client.ScopeStatementsRead, client.ScopeStatementsWrite}

// CoopClientName names the machine client of a demo cooperative: its management system.
func CoopClientName(c Cooperative) string {
	return "Gestionale " + strings.TrimPrefix(c.Name, "Cooperativa Sociale ")
}

// CoopClient is a demo cooperative's machine client; Secret is set only when it is known (it
// was just created, or kept by the caller).
type CoopClient struct {
	CooperativeID uuid.UUID
	ID            uuid.UUID
	Secret        string
}

// EnsureCoopClients finds or creates, as the ambito administrator behind c, the machine client
// of every demo cooperative (CoopClientName, bound to the cooperative, with CoopClientScopes),
// by cooperative key. Secrets are set only for the clients created now.
func EnsureCoopClients(ctx context.Context, c *idclient.Client, d Data) (map[string]CoopClient, error) {
	orgs, err := c.Organizations(ctx, identity.OrgCooperativa)
	if err != nil {
		return nil, fmt.Errorf("list the cooperatives: %w", err)
	}
	clients, err := c.Clients(ctx)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	out := map[string]CoopClient{}
	for _, coop := range d.Cooperatives {
		id, ok := findOrg(orgs, coop.Org)
		if !ok {
			return nil, fmt.Errorf("the cooperative %s is not in identity: load the demo data first", coop.Name)
		}
		name := CoopClientName(coop)
		i := slices.IndexFunc(clients, func(cl identity.Client) bool {
			return cl.Name == name && cl.Active && cl.OrganizationID != nil && *cl.OrganizationID == id
		})
		if i >= 0 {
			out[coop.Key] = CoopClient{CooperativeID: id, ID: clients[i].ID}
			continue
		}
		cl, err := c.CreateClient(ctx, identity.ClientInput{Name: name, OrganizationID: &id, Scopes: CoopClientScopes})
		if err != nil {
			return nil, fmt.Errorf("create the machine client of %s: %w", coop.Name, err)
		}
		out[coop.Key] = CoopClient{CooperativeID: id, ID: cl.ID, Secret: cl.Secret}
	}
	return out, nil
}

// InterventionsOptions locate the services the interventions demo data goes through.
type InterventionsOptions struct {
	IdentityURL, IntakeURL, InterventionsURL string
	// Admin is the identity client with the ambito administrator's token (to read the
	// cooperatives' operators).
	Admin *idclient.Client
	// Clients are the cooperatives' machine clients with their secrets, by cooperative key
	// (EnsureCoopClients); a cooperative whose secret is unknown gets no visits.
	Clients map[string]CoopClient
	// Today ends the visits (default: now, in Europe/Rome).
	Today time.Time
	HTTP  *http.Client
	Log   io.Writer
}

// InterventionsResult counts what SeedInterventions created.
type InterventionsResult struct {
	Authorizations, Visits, Refused int
}

// VisitMonths is how many months of visits the demo holds: the current one (up to today) and
// the ones before.
const VisitMonths = 3

// demoActivities are the activity codes (services/interventions/data/visit-activities.json)
// the demo visits of each service type draw from.
var demoActivities = map[string][]string{
	"SAD":  {"personal_care", "hygiene", "meal", "mobility", "housekeeping", "shopping"},
	"SADH": {"personal_care", "hygiene", "meal", "mobility", "escort", "relief"},
	"ADH":  {"educational_activity", "socialisation", "escort", "supervision"},
	"ADM":  {"educational_activity", "homework", "socialisation", "relief"},
	"AES":  {"school_support", "educational_activity", "supervision"},
}

// slot is a weekly visit of an authorization's schedule.
type slot struct {
	weekday time.Weekday
	start   int // minutes from midnight: 8, 10, 14 or 16 o'clock
	minutes int // at most 120: visits of different slots never overlap
}

// SeedInterventions records the interventions demo data: for each comune, through its demo
// social worker, an active authorization for each of the comune's open intake cases, of the
// service type the case's area calls for, to the accredited cooperative with the fewest so far
// (so that all 20 get some), 2 to 8 hours a week on a weekly schedule; then, through each
// cooperative's own machine client and the Go client, the visits of its operators on that
// schedule over the last VisitMonths months up to today, a batch per cooperative (a few missed:
// the citizen was not at home). A comune whose worker sees authorizations already, and a
// cooperative that has visits already, are left as they are: a second run changes nothing.
func SeedInterventions(ctx context.Context, d Data, o InterventionsOptions) (InterventionsResult, error) {
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 60 * time.Second}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		rome = time.UTC
	}
	today := o.Today
	if today.IsZero() {
		today = time.Now()
	}
	today = today.In(rome)
	first := time.Date(today.Year(), today.Month()-VisitMonths+1, 1, 0, 0, 0, 0, rome)
	var res InterventionsResult

	// The cooperatives' operators who make visits, from identity.
	coopIDs := map[string]uuid.UUID{}
	for key, cl := range o.Clients {
		coopIDs[key] = cl.CooperativeID
	}
	operators := make([][]uuid.UUID, len(d.Cooperatives))
	for i, c := range d.Cooperatives {
		id, ok := coopIDs[c.Key]
		if !ok {
			continue
		}
		ops, err := o.Admin.Operators(ctx, &id, "")
		if err != nil {
			return res, fmt.Errorf("list the operators of %s: %w", c.Name, err)
		}
		for _, op := range ops {
			for _, p := range op.Profiles {
				if p.OrganizationID == id && (p.Role == auth.RoleEducator || p.Role == auth.RoleASA || p.Role == auth.RoleOSS) &&
					p.ValidFrom <= first.Format(time.DateOnly) {
					operators[i] = append(operators[i], op.ID)
					break
				}
			}
		}
		slices.SortFunc(operators[i], func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	}

	// The authorizations, comune by comune.
	tax := intake.BaseTaxonomy()
	national := map[string]string{}
	for _, a := range tax.Areas {
		national[a.Code] = a.NationalArea
	}
	count := make([]int, len(d.Cooperatives))
	period := client.Period{From: first.Format(time.DateOnly), To: first.AddDate(1, 0, -1).Format(time.DateOnly)}
	for ci, w := range d.ComuneWorkers {
		org, _ := d.Org(w.OrgKey)
		tok, err := idclient.New(o.IdentityURL, o.HTTP).SignIn(ctx, w.Email, w.Password, "")
		if err != nil {
			return res, fmt.Errorf("sign in as %s: %w", w.Email, err)
		}
		c := &api{http: o.HTTP, token: tok.AccessToken}
		var existing struct {
			Items []client.Authorization `json:"items"`
		}
		if err := c.call(ctx, "GET", o.InterventionsURL+"/v1/authorizations?limit=1&status=active", "", nil, &existing); err != nil {
			return res, err
		}
		if len(existing.Items) > 0 {
			continue
		}
		var cases struct {
			Items []intake.Case `json:"items"`
		}
		if err := c.call(ctx, "GET", o.IntakeURL+"/v1/cases?limit=200&status=open&istat_code="+org.ISTATCode, "", nil, &cases); err != nil {
			return res, fmt.Errorf("intake: %w", err)
		}
		rng := rand.New(rand.NewPCG(d.Seed, uint64(ci)+0x17e4))
		slices.SortFunc(cases.Items, func(a, b intake.Case) int { return strings.Compare(a.ID.String(), b.ID.String()) })
		for _, k := range cases.Items {
			st := serviceFor(national[k.Area], rng)
			coop := -1
			for i, cp := range d.Cooperatives {
				if cp.has(identity.ServiceType(st)) && len(operators[i]) > 0 && (coop < 0 || count[i] < count[coop]) {
					coop = i
				}
			}
			if coop < 0 {
				continue
			}
			var slots []slot
			hours := 2 + rng.IntN(7)
			days := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
			rng.Shuffle(len(days), func(a, b int) { days[a], days[b] = days[b], days[a] })
			left := hours * 60
			for _, day := range days {
				if left <= 0 {
					break
				}
				m := min(left, 120)
				slots = append(slots, slot{weekday: day, start: 60 * []int{8, 10, 14, 16}[rng.IntN(4)], minutes: m})
				left -= m
			}
			if len(slots) == 0 {
				continue
			}
			schedule := []map[string]any{}
			for _, s := range slots {
				schedule = append(schedule, map[string]any{"weekday": strings.ToLower(s.weekday.String()[:3]),
					"from": clockOf(s.start), "to": clockOf(s.start + s.minutes)})
			}
			key := func(what string) string { return fmt.Sprintf("demo-%d-authorization-%s-%s", d.Seed, k.ID, what) }
			var a client.Authorization
			if err := c.call(ctx, "POST", o.InterventionsURL+"/v1/authorizations", key("create"), map[string]any{
				"istat_code": org.ISTATCode, "case_id": k.ID, "citizen_id": k.CitizenID, "service_type": st,
				"cooperative_id": coopIDs[d.Cooperatives[coop].Key], "period": period,
				"hours": map[string]any{"per_week": hours}, "schedule": schedule}, &a); err != nil {
				return res, fmt.Errorf("authorize a case of %s: %w", org.Name, err)
			}
			if err := c.call(ctx, "POST", o.InterventionsURL+"/v1/authorizations/"+a.ID+"/status", key("activate"),
				map[string]any{"status": "active", "reason": "Progetto approvato in équipe"}, &a); err != nil {
				return res, fmt.Errorf("activate an authorization of %s: %w", org.Name, err)
			}
			count[coop]++
			res.Authorizations++
		}
	}

	// The visits, cooperative by cooperative, through its own system's client.
	for i, coop := range d.Cooperatives {
		cc, ok := o.Clients[coop.Key]
		if !ok || cc.Secret == "" {
			if ok {
				fmt.Fprintf(o.Log, "    no secret for the machine client of %s: no visits for it\n", coop.Name)
			}
			continue
		}
		cl, err := client.New(client.Config{IdentityURL: o.IdentityURL, BaseURL: o.InterventionsURL, ClientID: cc.ID.String(),
			ClientSecret: cc.Secret, HTTPClient: o.HTTP, UserAgent: "csidev-demo"})
		if err != nil {
			return res, err
		}
		has := false
		for _, err := range cl.ListVisits(ctx, client.VisitFilter{PageSize: 1}) {
			if errors.Is(err, client.ErrNotFound) {
				fmt.Fprintln(o.Log, "    interventions has no visits endpoints in this checkout: no demo visits")
				return res, nil
			}
			if err != nil {
				return res, fmt.Errorf("the visits of %s: %w", coop.Name, err)
			}
			has = true
			break
		}
		if has {
			continue
		}
		var auths []client.Authorization
		for a, err := range cl.ListAuthorizations(ctx, client.AuthorizationFilter{Status: client.AuthorizationActive, PageSize: 200}) {
			if err != nil {
				return res, fmt.Errorf("the authorizations of %s: %w", coop.Name, err)
			}
			auths = append(auths, a)
		}
		slices.SortFunc(auths, func(a, b client.Authorization) int { return strings.Compare(a.ID, b.ID) })
		// Each slot of the schedule has its operator, every week the same one, never busy
		// elsewhere at that time.
		busy := map[string]bool{} // operator, weekday, start
		opOf := map[string]string{}
		for n, a := range auths {
			for _, s := range a.Schedule {
				for k := range operators[i] {
					op := operators[i][(n+k)%len(operators[i])].String()
					if b := op + s.Weekday + s.From; !busy[b] {
						busy[b], opOf[a.ID+s.Weekday+s.From] = true, op
						break
					}
				}
			}
		}
		var visits []client.VisitInput
		rng := rand.New(rand.NewPCG(d.Seed, uint64(i)+0x5151))
		for _, a := range auths {
			acts := demoActivities[a.ServiceType]
			for day := first; !day.After(today); day = day.AddDate(0, 0, 1) {
				for _, s := range a.Schedule {
					if s.Weekday != strings.ToLower(day.Weekday().String()[:3]) {
						continue
					}
					op := opOf[a.ID+s.Weekday+s.From]
					if op == "" || (day.Format(time.DateOnly) == today.Format(time.DateOnly) && s.To > today.Format("15:04")) {
						continue // no operator free then; or not made yet
					}
					v := client.VisitInput{AuthorizationID: a.ID, OperatorID: op, Date: day.Format(time.DateOnly),
						Start: s.From, End: s.To, Activities: pickN(rng, acts, 1+rng.IntN(2)), Place: client.PlaceHome}
					if a.ServiceType == "AES" {
						v.Place = client.PlaceSchool
					}
					if rng.IntN(25) == 0 {
						v.Absent, v.Notes = true, "Utente non presente al domicilio"
					}
					visits = append(visits, v)
				}
			}
		}
		if len(visits) == 0 {
			continue
		}
		br, err := cl.PostVisits(ctx, visits, client.IdempotencyKey(fmt.Sprintf("demo-%d-visits-%s-%s", d.Seed, coop.Key,
			today.Format(time.DateOnly))))
		if err != nil {
			return res, fmt.Errorf("the visits of %s: %w", coop.Name, err)
		}
		res.Visits += br.Stored
		res.Refused += br.Failed
		for _, it := range br.Results {
			if !it.OK() {
				fmt.Fprintf(o.Log, "    %s: visit %d refused: %v\n", coop.Name, it.Index, it.Problem)
				break
			}
		}
	}
	return res, nil
}

func clockOf(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

func pickN(rng *rand.Rand, xs []string, n int) []string {
	c := slices.Clone(xs)
	rng.Shuffle(len(c), func(a, b int) { c[a], c[b] = c[b], c[a] })
	return c[:min(n, len(c))]
}
