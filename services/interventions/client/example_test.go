package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/csi-lombardia/csi/services/interventions/client"
)

// A cooperative's system connects with the credentials of its machine client.
func ExampleNew() {
	c, err := client.New(client.Config{
		IdentityURL:  "https://identity.ambito.example.it",
		BaseURL:      "https://interventions.ambito.example.it",
		ClientID:     os.Getenv("CSI_CLIENT_ID"),
		ClientSecret: os.Getenv("CSI_CLIENT_SECRET"),
		UserAgent:    "gestionale-cooperativa/2.3",
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = c
}

// The active authorizations of the cooperative, page after page.
func ExampleClient_ListAuthorizations() {
	var c *client.Client // client.New
	ctx := context.Background()
	for a, err := range c.ListAuthorizations(ctx, client.AuthorizationFilter{Status: client.AuthorizationActive}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(a.ID, a.ServiceType, a.Period.From, a.Period.To, a.HourlyTariffCents)
	}
}

// A day's visits in one batch, with a key of the system's own: sent again after a crash, the
// same batch with the same key stores nothing twice. Refused visits come back one by one.
func ExampleClient_PostVisits() {
	var c *client.Client // client.New
	ctx := context.Background()
	visits := []client.VisitInput{
		{AuthorizationID: "0192f1c4-…", OperatorID: "0192f1c5-…", Date: "2025-05-02", Start: "09:00", End: "11:00",
			Activities: []string{"personal_care", "meal"}, Place: client.PlaceHome},
		{AuthorizationID: "0192f1c4-…", OperatorID: "0192f1c5-…", Date: "2025-05-03", Start: "09:00", End: "10:00",
			Place: client.PlaceHome, Absent: true, Notes: "Nessuno in casa"},
	}
	res, err := c.PostVisits(ctx, visits, client.IdempotencyKey("gestionale-2025-05-03-giro-1"))
	if err != nil {
		log.Fatal(err) // the service could not be reached: send again with the same key
	}
	fmt.Printf("%d stored, %d refused\n", res.Stored, res.Failed)
	for _, it := range res.Results {
		if !it.OK() {
			fmt.Printf("visit %d: %s (%s)\n", it.Index, it.Problem.Detail, it.Problem.Code)
		}
	}
}

// A refusal is a *Problem: its Code and fields say why.
func ExampleProblem() {
	var c *client.Client // client.New
	ctx := context.Background()
	_, err := c.PostVisit(ctx, client.VisitInput{AuthorizationID: "0192f1c4-…", OperatorID: "0192f1c5-…",
		Date: "2025-05-02", Start: "09:00", End: "11:00", Place: client.PlaceHome})
	var p *client.Problem
	switch {
	case err == nil:
	case errors.As(err, &p) && p.Code == "overlap":
		fmt.Println("the operator has another visit then:", p.Errors)
	case errors.Is(err, client.ErrForbidden):
		fmt.Println("not ours, or the client lacks visits:write")
	default:
		log.Fatal(err)
	}
}

// The month's statement, read and submitted if it did not change meanwhile.
func ExampleClient_SubmitStatement() {
	var c *client.Client // client.New
	ctx := context.Background()
	coop, err := c.CooperativeID(ctx)
	if err != nil {
		log.Fatal(err)
	}
	month := time.Now().AddDate(0, -1, 0).Format("2006-01")
	s, err := c.GetStatement(ctx, coop, month)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d lines, %.2f euro\n", s.Month, len(s.Lines), float64(s.TotalAmountCents)/100)
	if _, err := c.SubmitStatement(ctx, coop, month, client.IfMatch(s.ETag)); errors.Is(err, client.ErrPreconditionFailed) {
		fmt.Println("the statement changed: read it again")
	}
}
