package demo

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/services/intake"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
)

// AccessesPerComune is how many access records the intake demo data holds for each comune.
const AccessesPerComune = 40

// IntakeOptions locate the services the intake demo data goes through.
type IntakeOptions struct {
	IdentityURL, RegistryURL, IntakeURL string
	// Cooperatives are the ids of the demo cooperatives (named in the plans as preferred
	// providers); may be empty.
	Cooperatives []uuid.UUID
	HTTP         *http.Client
	Log          io.Writer
}

// IntakeResult counts what SeedIntake created.
type IntakeResult struct {
	Accesses, Cases, Assessments, Plans, Diary, Closed int
}

// SeedIntake records the intake demo data through intake's API, as each comune's demo social
// worker (ComuneWorkers): AccessesPerComune accesses of the comune's residents (some anonymous),
// needs drawn from the shipped taxonomy; about a third taken into care, most of those assessed
// with ADL/IADL, many with a PAI and diary entries, some closed. The data is drawn from d.Seed:
// the same on every run. A comune whose worker sees accesses already is left as it is; every
// create carries an Idempotency-Key derived from the seed, so an interrupted run resumes
// without duplicates.
func SeedIntake(ctx context.Context, d Data, o IntakeOptions) (IntakeResult, error) {
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	var res IntakeResult
	tax := intake.BaseTaxonomy()
	for i, w := range d.ComuneWorkers {
		org, _ := d.Org(w.OrgKey)
		tok, err := idclient.New(o.IdentityURL, o.HTTP).SignIn(ctx, w.Email, w.Password, "")
		if err != nil {
			return res, fmt.Errorf("sign in as %s: %w", w.Email, err)
		}
		c := &api{http: o.HTTP, token: tok.AccessToken}
		var existing struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := c.call(ctx, "GET", o.IntakeURL+"/v1/accesses?limit=1&istat_code="+org.ISTATCode, "", nil, &existing); err != nil {
			return res, err
		}
		if len(existing.Items) > 0 {
			continue
		}
		var residents struct {
			Items []struct {
				ID        uuid.UUID `json:"id"`
				BirthDate string    `json:"birth_date"`
			} `json:"items"`
		}
		if err := c.call(ctx, "GET", o.RegistryURL+"/v1/citizens?limit=200&residence_istat="+org.ISTATCode, "", nil, &residents); err != nil {
			return res, fmt.Errorf("registry: %w", err)
		}
		if len(residents.Items) == 0 {
			fmt.Fprintf(o.Log, "    no residents of %s in the registry: no intake demo data for it\n", org.Name)
			continue
		}
		me := subject(tok.AccessToken)
		rng := rand.New(rand.NewPCG(d.Seed, uint64(i)+0x1a7a3e))
		day := time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC)
		for n := range AccessesPerComune {
			key := func(what string) string { return fmt.Sprintf("demo-%d-%s-%d-%s", d.Seed, org.ISTATCode, n, what) }
			day = day.AddDate(0, 0, 1+rng.IntN(5))
			area := tax.Areas[rng.IntN(len(tax.Areas))]
			needs := []string{area.Needs[rng.IntN(len(area.Needs))].Code}
			if extra := area.Needs[rng.IntN(len(area.Needs))].Code; extra != needs[0] && rng.IntN(2) == 0 {
				needs = append(needs, extra)
			}
			citizen := residents.Items[rng.IntN(len(residents.Items))]
			in := map[string]any{
				"date": day.Format(time.DateOnly), "istat_code": org.ISTATCode, "desk": "Segretariato Sociale",
				"channel":  pick(rng, []string{"in_person", "in_person", "in_person", "phone", "email", "home_visit", "referral"}),
				"referrer": referrer(rng), "request_type": pick(rng, []string{"information", "service_request", "service_request", "economic_support", "consultation"}),
				"requested_area": area.Code, "needs": needs,
				"household":   map[string]any{"type": pick(rng, []string{"lives_alone", "couple_without_children", "couple_with_children", "single_parent", "extended_family"}), "size": 1 + rng.IntN(5)},
				"income_area": pick(rng, []string{"no_income", "insufficient", "partly_sufficient", "sufficient", "not_declared"}),
				"occupation":  pick(rng, []string{"employed", "unemployed", "retired", "retired", "student", "homemaker", "disabled_unable"}),
				"summary":     "Colloquio al Segretariato Sociale: " + strings.ToLower(area.Needs[0].Label) + ".",
			}
			if rng.IntN(10) == 0 {
				delete(in, "citizen_id")
				in["anonymous_contact"] = map[string]any{"alias": fmt.Sprintf("Persona %d", n+1), "note": "Non desidera essere identificata"}
			} else {
				in["citizen_id"] = citizen.ID
			}
			if rng.IntN(3) == 0 {
				in["isee"] = map[string]any{"type": "ordinario", "value_cents": int64(200_000 + rng.IntN(3_000_000))}
			}
			takeIntoCare := in["citizen_id"] != nil && rng.IntN(3) == 0
			if !takeIntoCare {
				switch k := pick(rng, []string{"information", "orientation", "referral"}); k {
				case "referral":
					in["outcome"] = map[string]any{"kind": k, "referred_to": pick(rng, []string{"Consultorio familiare ASST", "Centro per l'impiego", "CPS - Centro Psico Sociale", "Patronato"})}
				default:
					in["outcome"] = map[string]any{"kind": k}
				}
			}
			var access struct {
				ID uuid.UUID `json:"id"`
			}
			if err := c.call(ctx, "POST", o.IntakeURL+"/v1/accesses", key("access"), in, &access); err != nil {
				return res, fmt.Errorf("record an access in %s: %w", org.Name, err)
			}
			res.Accesses++
			if !takeIntoCare {
				continue
			}
			var kase struct {
				ID      uuid.UUID `json:"id"`
				Version int64     `json:"version"`
			}
			opened := day.AddDate(0, 0, rng.IntN(10))
			if err := c.call(ctx, "POST", o.IntakeURL+"/v1/cases", key("case"), map[string]any{"citizen_id": citizen.ID, "istat_code": org.ISTATCode,
				"area": area.Code, "access_id": access.ID, "opened_on": opened.Format(time.DateOnly)}, &kase); err != nil {
				return res, fmt.Errorf("open a case in %s: %w", org.Name, err)
			}
			res.Cases++
			caseURL := o.IntakeURL + "/v1/cases/" + kase.ID.String()
			if rng.IntN(10) < 7 {
				assessment := map[string]any{"assessed_on": opened.AddDate(0, 0, 7).Format(time.DateOnly), "areas": []string{area.Code},
					"current_condition": "Valutazione domiciliare con il caregiver.",
					"adl":               map[string]any{"answers": answers(rng, intake.LatestScale("adl"))},
					"iadl":              map[string]any{"answers": answers(rng, intake.LatestScale("iadl"))}}
				if err := c.call(ctx, "POST", caseURL+"/assessments", key("assessment"), assessment, nil); err != nil {
					return res, fmt.Errorf("assess a case in %s: %w", org.Name, err)
				}
				res.Assessments++
			}
			var coop *uuid.UUID
			if rng.IntN(2) == 0 {
				hours := float64(2 + rng.IntN(10))
				svc := map[string]any{"service_type": serviceFor(area.NationalArea, rng), "frequency": "weekly", "hours_per_week": hours}
				if len(o.Cooperatives) > 0 {
					id := o.Cooperatives[rng.IntN(len(o.Cooperatives))]
					coop, svc["preferred_cooperative"] = &id, id
				}
				value := int64(hours * 52 * 2_150)
				plan := map[string]any{"goals": []string{"Mantenere la persona al proprio domicilio", "Sostenere la famiglia nel lavoro di cura"},
					"planned_services": []any{svc}, "project_value_cents": value, "user_copayment_cents": value / 10,
					"project_lead": me, "monitoring_lead": me, "review_on": opened.AddDate(0, 6, 0).Format(time.DateOnly)}
				if err := c.call(ctx, "PUT", caseURL+"/plan", "", plan, nil, "If-None-Match", "*"); err != nil {
					return res, fmt.Errorf("write the PAI of a case in %s: %w", org.Name, err)
				}
				res.Plans++
			}
			entry := map[string]any{"entry_on": opened.AddDate(0, 0, 14).Format(time.DateOnly), "text": "Visita domiciliare: la situazione è stabile.", "visibility": "team"}
			if coop != nil {
				entry["visibility"], entry["cooperative_id"] = "cooperative", *coop
				entry["text"] = "Per la cooperativa: preferenza per le visite del mattino."
			}
			if err := c.call(ctx, "POST", caseURL+"/diary", key("diary"), entry, nil); err != nil {
				return res, fmt.Errorf("write the diary of a case in %s: %w", org.Name, err)
			}
			res.Diary++
			// intake refuses a closure dated in the future: eight months on, or today.
			closedOn := opened.AddDate(0, 8, 0)
			if today := time.Now().UTC().Truncate(24 * time.Hour); closedOn.After(today) {
				closedOn = today
			}
			if rng.IntN(6) == 0 && !closedOn.Before(opened) {
				closure := map[string]any{"closed_on": closedOn.Format(time.DateOnly), "results_reached": []string{"Autonomia al domicilio mantenuta"},
					"closure_reason": pick(rng, []string{"goals_reached", "moved_away", "admitted_residential"}), "new_project_follows": false}
				if err := c.call(ctx, "POST", caseURL+"/closure", "", closure, nil); err != nil {
					return res, fmt.Errorf("close a case in %s: %w", org.Name, err)
				}
				res.Closed++
			}
		}
	}
	return res, nil
}

func referrer(rng *rand.Rand) map[string]any {
	switch k := pick(rng, []string{"self", "self", "family", "school", "health_service", "court", "other_service"}); k {
	case "school":
		return map[string]any{"kind": k, "body": "Istituto comprensivo statale"}
	case "health_service":
		return map[string]any{"kind": k, "body": "ASST Rhodense - medico di medicina generale"}
	case "court":
		return map[string]any{"kind": k, "body": "Tribunale per i minorenni di Milano"}
	default:
		return map[string]any{"kind": k}
	}
}

// serviceFor is a plausible service type for a case of a national area.
func serviceFor(nationalArea string, rng *rand.Rand) string {
	switch nationalArea {
	case "elderly":
		return "SAD"
	case "disability":
		return pick(rng, []string{"SADH", "ADH"})
	case "families_minors":
		return pick(rng, []string{"ADM", "AES"})
	}
	return "SAD"
}

// answers picks an option of every item of a scale, mostly the higher ones.
func answers(rng *rand.Rand, s intake.Scale) map[string]string {
	out := map[string]string{}
	for _, it := range s.Items {
		i := 0
		if rng.IntN(3) == 0 {
			i = rng.IntN(len(it.Options))
		}
		out[it.Code] = it.Options[i].Code
	}
	return out
}

// subject reads the operator id (sub) of a token the caller just got from identity.
func subject(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Sub string `json:"sub"`
	}
	_ = json.Unmarshal(b, &c)
	return c.Sub
}

// api makes JSON calls with a bearer token.
type api struct {
	http  *http.Client
	token string
}

func (a *api) call(ctx context.Context, method, u, idemKey string, in, out any, headers ...string) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		p, _ := url.PathUnescape(req.URL.Path)
		return fmt.Errorf("%s %s: %d %s", method, p, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}
