package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/jackc/pgx/v5"
)

// writes is what reading back found of a scenario's creates.
type writes struct {
	acked      int // creates answered 2xx (distinct markers)
	lost       int // answered 2xx, not in the database
	duplicated int // rows beyond the first for one marker
	unacked    int // answered otherwise (or not at all), yet stored: a client would retry them
	apiMissing int // answered 2xx, not readable through the API with the marker and id answered
	rows       int // rows found for the markers sent
}

// judge keeps w as o's read-back (err: reading back failed) and fails o for each kind of loss
// it found; what names the writes ("visits"), answered their answer ("201", "2xx"), and
// dupKey, when set, what a duplicate shares ("operator, start").
func (o *outcome) judge(w writes, err error, what, answered, dupKey string) {
	if err != nil {
		o.failf("reading back: %v", err)
	}
	o.w = w
	if w.lost > 0 {
		o.failf("%d %s answered %s are missing", w.lost, what, answered)
	}
	if w.duplicated > 0 {
		if dupKey != "" {
			o.failf("%d %s are stored more than once (%s)", w.duplicated, what, dupKey)
		} else {
			o.failf("%d %s are stored more than once", w.duplicated, what)
		}
	}
	if w.unacked > 0 {
		o.failf("%d %s are stored that no answer named", w.unacked, what)
	}
	if w.apiMissing > 0 {
		o.failf("%d %s answered %s cannot be read back through the API", w.apiMissing, what, answered)
	}
}

// store is where the creates of one operation are counted and read back.
type store struct {
	op    string // the create operation
	what  string // the rows, for errors
	count string // SQL: the marker and the count of the rows of each marker in $1
	read  func(ctx context.Context, t *target, id, marker string) bool
}

var (
	citizens = store{op: opCreate, what: "citizens",
		count: `SELECT data->>'email', count(*) FROM citizens WHERE data->>'email' = ANY($1) GROUP BY 1`, read: readBack}
	accesses = store{op: opAccessCreate, what: "accesses",
		count: `SELECT data->>'desk', count(*) FROM accesses WHERE data->>'desk' = ANY($1) GROUP BY 1`, read: readAccessBack}
)

// checkWrites counts, in the registry's database, the rows of every marker the results sent,
// and reads every citizen answered 2xx back through the API.
func checkWrites(ctx context.Context, dbURL string, t *target, results []result) (writes, error) {
	return checkStored(ctx, dbURL, t, results, citizens)
}

// checkStored counts, in the database of dbURL, the rows of every marker the creates of st
// among results sent, and reads every one answered 2xx back through the API.
func checkStored(ctx context.Context, dbURL string, t *target, results []result, st store) (writes, error) {
	var w writes
	sent := map[string]bool{}  // marker -> some attempt answered 2xx
	ids := map[string]string{} // marker -> id answered
	for _, r := range results {
		if r.op != st.op {
			continue
		}
		sent[r.marker] = sent[r.marker] || r.ok()
		if r.ok() {
			if prev, ok := ids[r.marker]; ok && prev != r.id {
				// Two 2xx answers for one key naming different citizens.
				w.duplicated++
			}
			ids[r.marker] = r.id
		}
	}
	markers := make([]string, 0, len(sent))
	for m := range sent {
		markers = append(markers, m)
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return w, fmt.Errorf("connect to the database of the %s: %w", st.what, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, st.count, markers)
	if err != nil {
		return w, fmt.Errorf("count the %s: %w", st.what, err)
	}
	stored := map[string]int{}
	for rows.Next() {
		var m string
		var n int
		if err := rows.Scan(&m, &n); err != nil {
			return w, err
		}
		stored[m] = n
		w.rows += n
	}
	if err := rows.Err(); err != nil {
		return w, fmt.Errorf("count the %s: %w", st.what, err)
	}
	for m, acked := range sent {
		n := stored[m]
		if n > 1 {
			w.duplicated += n - 1
		}
		switch {
		case acked:
			w.acked++
			if n == 0 {
				w.lost++
			}
		case n > 0:
			w.unacked++
		}
	}

	// Read back through the API, a few at a time.
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, 4)
	)
	for m, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if !st.read(ctx, t, id, m) {
				mu.Lock()
				w.apiMissing++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return w, nil
}

// readBack reports whether GET /v1/citizens/{id} answers 200 with the marker.
func readBack(ctx context.Context, t *target, id, marker string) bool {
	for attempt := 0; attempt < 3; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.registry+"/v1/citizens/"+id+"?purpose=reliability+check", nil)
		req.Header.Set("Authorization", "Bearer "+*t.userToken.Load())
		resp, err := t.http.Do(req)
		if err != nil {
			continue
		}
		var c struct {
			Email string `json:"email"`
		}
		err = json.NewDecoder(resp.Body).Decode(&c)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK && err == nil {
			return c.Email == marker
		}
		if resp.StatusCode == http.StatusNotFound {
			return false
		}
	}
	return false
}

// readAccessBack reports whether GET /v1/accesses/{id} on intake answers 200 with the marker.
func readAccessBack(ctx context.Context, t *target, id, marker string) bool {
	for attempt := 0; attempt < 3; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.intake+"/v1/accesses/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+*t.userToken.Load())
		resp, err := t.http.Do(req)
		if err != nil {
			continue
		}
		var a struct {
			Desk string `json:"desk"`
		}
		err = json.NewDecoder(resp.Body).Decode(&a)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK && err == nil {
			return a.Desk == marker
		}
		if resp.StatusCode == http.StatusNotFound {
			return false
		}
	}
	return false
}
