package clienttest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/csi-lombardia/csi/services/interventions/client"
)

// TestVisits posts visits through the client: a batch whose first answer is lost after
// interventions stored it is retried with the same key and stores nothing twice; rule
// failures come back as typed problems, per item in a batch; a batch beyond MaxBatch is split.
func TestVisits(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	a := w.authorize(w.coop, "2025-01-01", "2026-12-31")
	c := w.client(client.Config{})
	visit := func(date, start, end string) client.VisitInput {
		return client.VisitInput{AuthorizationID: a.ID.String(), OperatorID: w.asa.String(), Date: date, Start: start, End: end,
			Activities: []string{"personal_care"}, Place: client.PlaceHome}
	}

	t.Run("a lost answer is retried with the same key", func(t *testing.T) {
		batch := []client.VisitInput{
			visit("2025-05-05", "09:00", "11:00"), visit("2025-05-06", "09:00", "11:00"), visit("2025-05-07", "09:00", "10:30"),
			visit("2024-12-02", "09:00", "11:00"), // before the period
			visit("2025-05-05", "10:00", "12:00"), // overlaps the first
		}
		w.proxy.take()
		w.proxy.drop["/v1/visits:batch"] = 1
		res, err := c.PostVisits(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		seen := w.proxy.take()
		if len(seen) != 2 || seen[0].Status != 0 || seen[1].Status != 200 || seen[0].Key == "" || seen[0].Key != seen[1].Key {
			t.Fatalf("exchanges %v, want the lost one and its retry with the same key", statuses(seen))
		}
		if !bytes.Equal(seen[0].Body, seen[1].Body) {
			t.Errorf("the retry was answered\n%s\nthe first time\n%s", seen[1].Body, seen[0].Body)
		}
		if res.Stored != 3 || res.Failed != 2 || len(res.Results) != 5 {
			t.Fatalf("stored %d, failed %d, %d results; want 3, 2, 5", res.Stored, res.Failed, len(res.Results))
		}
		for i, it := range res.Results {
			if it.Index != i || it.OK() != (i < 3) {
				t.Errorf("result %d = %+v", i, it)
			}
		}
		for i, code := range map[int]string{3: "outside_period", 4: "overlap"} {
			p := res.Results[i].Problem
			if p == nil || p.Code != code || !strings.HasPrefix(fieldOf(p), fmt.Sprintf("visits[%d]", i)) {
				t.Errorf("result %d problem %+v, want %s naming visits[%d]", i, p, code, i)
			}
		}
		n := 0
		for v, err := range c.ListVisits(ctx, client.VisitFilter{AuthorizationID: a.ID.String()}) {
			if err != nil {
				t.Fatal(err)
			}
			if v.Date == "2025-05-05" && v.Minutes != 120 {
				t.Errorf("visit %+v, want 120 minutes", v)
			}
			n++
		}
		if n != 3 {
			t.Errorf("%d visits stored, want 3 (none twice)", n)
		}
	})

	t.Run("the same batch again with its key", func(t *testing.T) {
		batch := []client.VisitInput{visit("2025-06-02", "09:00", "10:00"), visit("2025-06-03", "09:00", "10:00")}
		first, err := c.PostVisits(ctx, batch, client.IdempotencyKey("gestionale-2025-06-03"))
		if err != nil {
			t.Fatal(err)
		}
		again, err := c.PostVisits(ctx, batch, client.IdempotencyKey("gestionale-2025-06-03"))
		if err != nil {
			t.Fatal(err)
		}
		if again.Stored != 2 || first.Stored != 2 || again.Results[0].Visit.ID != first.Results[0].Visit.ID ||
			again.Results[1].Visit.ID != first.Results[1].Visit.ID {
			t.Errorf("sent again: %+v, first %+v; want the same visits", again, first)
		}
		batch[1].End = "10:30"
		_, err = c.PostVisits(ctx, batch, client.IdempotencyKey("gestionale-2025-06-03"))
		var p *client.Problem
		if !errors.As(err, &p) || p.Status/100 != 4 {
			t.Errorf("another batch with the same key = %v, want a 4xx problem", err)
		}
	})

	t.Run("one visit refused", func(t *testing.T) {
		v, err := c.PostVisit(ctx, visit("2025-07-01", "09:00", "10:00"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.PostVisit(ctx, visit("2025-07-01", "09:30", "10:30"))
		var p *client.Problem
		if !errors.As(err, &p) || p.Code != "overlap" || p.Status/100 != 4 {
			t.Errorf("an overlapping visit = %v, want a problem with code overlap", err)
		}
		other := visit("2025-07-02", "09:00", "10:00")
		other.OperatorID = w.asa.String()
		other.AuthorizationID = w.authorize(w.otherCoop, "2025-01-01", "2026-12-31").ID.String()
		if _, err := c.PostVisit(ctx, other); err == nil {
			t.Errorf("a visit on another cooperative's authorization was stored")
		}
		repl := visit("2025-07-01", "14:00", "15:00")
		r, err := c.VoidVisit(ctx, v.ID, "orario sbagliato", &repl)
		if err != nil {
			t.Fatal(err)
		}
		if r.Voided.Status != client.VisitVoided || r.Replacement == nil || r.Replacement.Replaces == nil || *r.Replacement.Replaces != v.ID {
			t.Errorf("void = %+v, want the visit voided and replaced", r)
		}
		got, err := c.GetVisit(ctx, v.ID)
		if err != nil || got.Status != client.VisitVoided {
			t.Errorf("the voided visit = %+v, %v; want it still there, voided", got, err)
		}
	})

	t.Run("the statement", func(t *testing.T) {
		s, err := c.GetStatement(ctx, w.coop.String(), "2025-05")
		if err != nil {
			t.Fatal(err)
		}
		if s.Status != client.StatementOpen || len(s.Lines) != 1 || s.Lines[0].AuthorizationID != a.ID.String() ||
			s.Lines[0].DeliveredMinutes != 330 || s.TotalAmountCents <= 0 || s.ETag == "" {
			t.Fatalf("statement %+v, want an open one of 330 minutes with an ETag", s)
		}
		var csv bytes.Buffer
		if n, err := c.ExportStatement(ctx, w.coop.String(), "2025-05", client.ExportCSV, &csv); err != nil || n == 0 ||
			!strings.Contains(csv.String(), a.ID.String()) {
			t.Errorf("export = %d bytes, %v:\n%s", n, err, csv.String())
		}
		sub, err := c.SubmitStatement(ctx, w.coop.String(), "2025-05", client.IfMatch(s.ETag))
		if err != nil || sub.Status != client.StatementSubmitted {
			t.Fatalf("submit = %+v, %v", sub.Status, err)
		}
		_, err = c.SubmitStatement(ctx, w.coop.String(), "2025-05", client.IfMatch(s.ETag))
		if !errors.Is(err, client.ErrPreconditionFailed) && !errors.Is(err, client.ErrConflict) {
			t.Errorf("a second submit with the old ETag = %v, want ErrPreconditionFailed or ErrConflict", err)
		}
		if _, err := c.GetStatement(ctx, w.otherCoop.String(), "2025-05"); !errors.Is(err, client.ErrForbidden) && !errors.Is(err, client.ErrNotFound) {
			t.Errorf("another cooperative's statement = %v, want ErrForbidden or ErrNotFound", err)
		}
	})

	t.Run("a batch beyond MaxBatch", func(t *testing.T) {
		day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var batch []client.VisitInput
		for i := range client.MaxBatch + 3 {
			d := day.AddDate(0, 0, i/8)
			batch = append(batch, visit(d.Format(time.DateOnly), fmt.Sprintf("%02d:00", 8+i%8), fmt.Sprintf("%02d:30", 8+i%8)))
		}
		w.proxy.take()
		res, err := c.PostVisits(ctx, batch, client.IdempotencyKey("anno-2026"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Stored != len(batch) || res.Results[client.MaxBatch].Index != client.MaxBatch {
			t.Errorf("stored %d of %d, failed %d", res.Stored, len(batch), res.Failed)
		}
		var keys []string
		for _, ex := range w.proxy.take() {
			keys = append(keys, ex.Key)
		}
		if strings.Join(keys, " ") != "anno-2026/0 anno-2026/1" {
			t.Errorf("keys %q, want anno-2026/0 anno-2026/1", keys)
		}
	})
}

func fieldOf(p *client.Problem) string {
	if len(p.Errors) == 0 {
		return ""
	}
	return p.Errors[0].Field
}
