// Command example is a cooperative's system in a few lines, on the interventions client: it
// lists the cooperative's active authorizations, records today's visits of one operator as a
// batch, sends the same batch again with the same Idempotency-Key (as a system would after a
// timeout or a crash: nothing is stored twice, the answer is the same), and reads the month's
// statement.
//
//	CSI_IDENTITY_URL=http://127.0.0.1:8081 CSI_INTERVENTIONS_URL=http://127.0.0.1:8084 \
//	CSI_CLIENT_ID=… CSI_CLIENT_SECRET=… CSI_OPERATOR_ID=… go run ./services/interventions/client/example
//
// CSI_OPERATOR_ID is an educator, ASA or OSS of the cooperative, who made the visits (default:
// the operator of the cooperative's latest visit); CSI_VISIT_DATE (YYYY-MM-DD, default today)
// the day of the visits.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/csi-lombardia/csi/services/interventions/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context) error {
	c, err := client.New(client.Config{
		IdentityURL:  env("CSI_IDENTITY_URL", "http://127.0.0.1:8081"),
		BaseURL:      env("CSI_INTERVENTIONS_URL", "http://127.0.0.1:8084"),
		ClientID:     os.Getenv("CSI_CLIENT_ID"),
		ClientSecret: os.Getenv("CSI_CLIENT_SECRET"),
		UserAgent:    "csi-client-example",
	})
	if err != nil {
		return err
	}
	operator := os.Getenv("CSI_OPERATOR_ID")
	day := env("CSI_VISIT_DATE", time.Now().Format(time.DateOnly))
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return fmt.Errorf("CSI_VISIT_DATE %q is not YYYY-MM-DD", day)
	}
	coop, err := c.CooperativeID(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("cooperative %s\n", coop)

	// 1. The active authorizations of the cooperative; the visits go to those valid today.
	var visits []client.VisitInput
	n := 0
	for a, err := range c.ListAuthorizations(ctx, client.AuthorizationFilter{Status: client.AuthorizationActive}) {
		if err != nil {
			return fmt.Errorf("list the authorizations: %w", err)
		}
		n++
		if n <= 5 {
			fmt.Printf("  authorization %s  %-4s %s..%s  %.2f euro/h\n", a.ID, a.ServiceType, a.Period.From, a.Period.To,
				float64(a.HourlyTariffCents)/100)
		}
		if a.Period.From <= day && day <= a.Period.To && len(visits) < 8 {
			start := 8 + len(visits) // one visit an hour: an operator's visits never overlap
			visits = append(visits, client.VisitInput{AuthorizationID: a.ID, OperatorID: operator, Date: day,
				Start: fmt.Sprintf("%02d:00", start), End: fmt.Sprintf("%02d:45", start),
				Activities: []string{"personal_care"}, Place: client.PlaceHome, Notes: "Visita registrata dal gestionale"})
		}
	}
	fmt.Printf("%d active authorizations, %d valid on %s\n", n, len(visits), day)
	if len(visits) == 0 {
		return nil
	}
	if operator == "" { // the operator of the latest visit of the cooperative
		for v, err := range c.ListVisits(ctx, client.VisitFilter{PageSize: 1}) {
			if err != nil {
				return fmt.Errorf("list the visits: %w", err)
			}
			operator = v.OperatorID
			break
		}
		if operator == "" {
			return errors.New("CSI_OPERATOR_ID is required (no visit yet to take an operator from): an educator, ASA or OSS of the cooperative")
		}
	}
	for i := range visits {
		visits[i].OperatorID = operator
	}

	// 2. The batch, with a key of our own: the same key for the same day's batch.
	key := "example-" + operator + "-" + day
	first, err := c.PostVisits(ctx, visits, client.IdempotencyKey(key))
	if err != nil {
		return fmt.Errorf("post the visits: %w", err)
	}
	fmt.Printf("batch %s: %d stored, %d refused\n", key, first.Stored, first.Failed)
	for _, it := range first.Results {
		if it.OK() {
			fmt.Printf("  visit %d stored as %s (%d minutes)\n", it.Index, it.Visit.ID, it.Visit.Minutes)
		} else {
			fmt.Printf("  visit %d refused: %v\n", it.Index, it.Problem)
		}
	}

	// 3. The same batch again, with the same key: as after a lost answer.
	again, err := c.PostVisits(ctx, visits, client.IdempotencyKey(key))
	if err != nil {
		return fmt.Errorf("post the visits again: %w", err)
	}
	same := again.Stored == first.Stored && len(again.Results) == len(first.Results)
	for i := range again.Results {
		if same && again.Results[i].OK() && again.Results[i].Visit.ID != first.Results[i].Visit.ID {
			same = false
		}
	}
	fmt.Printf("sent again with the same key: %d stored, same answer: %v\n", again.Stored, same)

	// 4. The month's statement so far.
	s, err := c.GetStatement(ctx, coop, day[:7])
	if err != nil {
		return fmt.Errorf("read the statement: %w", err)
	}
	var delivered int64
	for _, l := range s.Lines {
		delivered += l.DeliveredMinutes
	}
	fmt.Printf("statement %s: %s, %d lines, %d minutes delivered, %.2f euro\n", s.Month, s.Status, len(s.Lines), delivered,
		float64(s.TotalAmountCents)/100)
	return nil
}
