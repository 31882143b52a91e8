package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/docstore"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
)

// opUpload is a document upload of scenario j.
const opUpload = "document upload"

// s3Switch stands between interventions and the S3 server (make test's, which other work uses:
// it is never stopped): a TCP forwarder that, while down, cuts every connection it carries and
// refuses new ones, as a store gone from the network would.
type s3Switch struct {
	ln     net.Listener
	target string
	cfg    docstore.S3Config // the real server's, for the read-back
	down   atomic.Bool
	mu     sync.Mutex
	conns  map[net.Conn]bool
}

func newS3Switch(cfg docstore.S3Config) (*s3Switch, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &s3Switch{ln: ln, target: cfg.Endpoint, cfg: cfg, conns: map[net.Conn]bool{}}
	go s.serve()
	return s, nil
}

// Addr is where interventions reaches S3.
func (s *s3Switch) Addr() string { return s.ln.Addr().String() }

func (s *s3Switch) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		if s.down.Load() {
			_ = c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", s.target, 2*time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		if !s.track(c, up) { // S3 went away meanwhile
			_, _ = c.Close(), up.Close()
			continue
		}
		go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
		go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
	}
}

// track keeps the connections to cut them when S3 goes away; false when it is away already.
// Under the lock that SetDown takes, so no connection is kept after the cut.
func (s *s3Switch) track(cs ...net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down.Load() {
		return false
	}
	for _, c := range cs {
		s.conns[c] = true
	}
	return true
}

// SetDown takes S3 away (cutting the connections in flight) or gives it back.
func (s *s3Switch) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down.Store(down)
	if !down {
		return
	}
	for c := range s.conns {
		_ = c.Close()
	}
	s.conns = map[net.Conn]bool{}
}

func (s *s3Switch) Close() error { return s.ln.Close() }

// pdf is a small PDF whose bytes are the k-th upload's own.
func pdf(run string, k int) []byte {
	return []byte(fmt.Sprintf("%%PDF-1.4\n%% csichaos %s %d\n1 0 obj << /Type /Catalog >> endobj\n%s\n%%%%EOF\n", run, k, strings.Repeat("0", 2048)))
}

// j. S3 goes away while documents are uploaded: every upload answers 503 with Retry-After
// while it is away and leaves nothing (no metadata without its object, no object without its
// metadata); S3 comes back, every refused upload is sent again with its key and is stored; every
// document answered 201 is in the database once, its object in the bucket with the SHA-256
// answered, and readable through its presigned link.
func s3Down(ctx context.Context, e *env) outcome {
	o := outcome{}
	if e.s3 == nil {
		o.failf("no S3 server: give -s3-endpoint, -s3-access-key and -s3-secret-key (make test's: CSI_TEST_S3_ENDPOINT, ...)")
		return o
	}
	iv, err := e.interventions(ctx)
	if err != nil {
		o.failf("%v", err)
		return o
	}
	sm, ok := e.s.Demo().DemoUser(auth.RoleServiceManager)
	if !ok {
		o.failf("the demo data has no service manager")
		return o
	}
	tok, err := idclient.New(e.s.URL("identity"), nil).SignIn(ctx, sm.Email, sm.Password, "")
	if err != nil {
		o.failf("sign in as %s: %v", sm.Email, err)
		return o
	}
	authID := iv.st.WriteAuths[0].ID
	run := uuid.NewString()[:8]
	upload := func(ctx context.Context, k int, key string) result {
		body := pdf(run, k)
		q := url.Values{"kind": {"report"}, "filename": {fmt.Sprintf("chaos-%s-%d.pdf", run, k)}}
		r := result{op: opUpload, at: time.Now(), body: body, key: key, marker: q.Get("filename")}
		ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, iv.base+"/v1/authorizations/"+authID.String()+"/documents?"+q.Encode(),
			bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/pdf")
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Idempotency-Key", key)
		resp, err := iv.http.Do(req)
		if err != nil {
			r.dur, r.err = time.Since(r.at), err.Error()
			return r
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		r.dur, r.status, r.retryAfter = time.Since(r.at), resp.StatusCode, resp.Header.Get("Retry-After")
		r.replayed = resp.Header.Get("Idempotent-Replayed") == "true"
		var d struct {
			ID     string `json:"id"`
			SHA256 string `json:"sha256"`
		}
		if r.ok() && json.Unmarshal(b, &d) == nil {
			r.id = d.ID
			if sum := sha256.Sum256(body); d.SHA256 != hex.EncodeToString(sum[:]) {
				r.err = "answered sha256 " + d.SHA256 + ", not the body's"
			}
		} else if !r.ok() {
			r.err = fmt.Sprintf("%.200s", b)
		}
		return r
	}

	var downAt, upAt time.Time
	began := time.Now()
	var fault sync.WaitGroup
	fault.Go(func() {
		sleep(ctx, e.at())
		e.s3.SetDown(true)
		downAt = time.Now()
		e.logf("S3 unreachable")
		sleep(ctx, e.dur/2)
		e.s3.SetDown(false)
		upAt = time.Now()
		e.logf("S3 reachable again")
	})
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	tick := time.NewTicker(time.Duration(float64(time.Second) / e.rate))
	end := time.After(e.dur)
loop:
	for k := 0; ; k++ {
		select {
		case <-ctx.Done():
			break loop
		case <-end:
			break loop
		case <-tick.C:
		}
		wg.Go(func() {
			r := upload(ctx, k, uuid.NewString())
			mu.Lock()
			o.results = append(o.results, r)
			mu.Unlock()
		})
	}
	tick.Stop()
	wg.Wait()
	fault.Wait()
	o.faultStart, o.faultEnd = downAt, upAt
	o.rate = float64(len(o.results)) / min(time.Since(began), e.dur).Seconds()
	if downAt.IsZero() || upAt.IsZero() {
		return o
	}
	var refused []result
	var during, duringOK int
	for _, r := range o.results {
		inOutage := !r.at.Before(downAt) && r.at.Before(upAt)
		near := r.at.After(downAt.Add(-time.Second)) && r.at.Before(upAt.Add(time.Second))
		if inOutage {
			during++
		}
		if r.ok() {
			// Sent well inside the outage: an upload sent in its last moments may reach S3
			// only once it is back (the service reads and checks the body first).
			if r.at.After(downAt.Add(time.Second)) && r.at.Before(upAt.Add(-2*time.Second)) {
				duringOK++
			}
			if r.err != "" {
				o.failf("an upload answered 201: %s", r.err)
			}
			continue
		}
		switch {
		case r.status != http.StatusServiceUnavailable || r.retryAfter == "":
			o.failf("an upload answered status %d Retry-After %q %s: want 503 with Retry-After", r.status, r.retryAfter, r.err)
		case !near:
			o.failf("an upload answered 503 outside the outage, at %s", r.at.Format("15:04:05.000"))
		}
		refused = append(refused, r)
	}
	if duringOK > 0 {
		o.failf("%d uploads sent while S3 was away answered 201", duringOK)
	}
	if during == 0 {
		o.failf("no upload was sent while S3 was away: the scenario tested nothing")
	}
	first, err := readBackDocuments(ctx, e, authID, run, o.results)
	if err != nil {
		o.failf("reading back: %v", err)
		return o
	}
	o.notef("S3 at %s behind the switch at %s", e.s3.target, e.s3.Addr())
	if first.unacked > 0 {
		o.failf("%d uploads answered 503 left their metadata", first.unacked)
	}
	var replayed int
	for _, r := range refused {
		k := 0
		fmt.Sscanf(strings.TrimPrefix(r.marker, "chaos-"+run+"-"), "%d.pdf", &k)
		again := upload(ctx, k, r.key)
		o.retries = append(o.retries, again)
		if again.replayed {
			replayed++
		}
		if !again.ok() {
			o.failf("an upload refused while S3 was away, sent again with its key: status %d %s", again.status, again.err)
		}
	}
	if replayed > 0 {
		o.failf("%d retries after the outage got a replayed answer: a 503 was kept under its Idempotency-Key", replayed)
	}
	w, err := readBackDocuments(ctx, e, authID, run, append(o.results, o.retries...))
	// Every document answered: its bytes through its presigned link (the service checks the
	// SHA-256 before it hands out a link; the bytes are checked here too).
	for _, r := range append(o.results, o.retries...) {
		if !r.ok() || r.id == "" {
			continue
		}
		if err := readLink(ctx, iv, tok.AccessToken, r.id, r.body); err != nil {
			w.apiMissing++
			o.notef("document %s: %v", r.id, err)
		}
	}
	// (lost: the document or its object; unacked: either stored unnamed; through the API: by
	// the presigned link)
	o.judge(w.writes, err, "documents", "201", "")
	o.recovery = "at once (the next upload after S3 is reachable)"
	o.notef("uploads (POST /v1/authorizations/{id}/documents, a 2 kB PDF, Idempotency-Key) at %.0f/s by the demo service manager; S3 behind a TCP switch that cut every connection and refused new ones for %.1f s",
		e.rate, upAt.Sub(downAt).Seconds())
	o.notef("uploads sent while S3 was away: %d; answered 503 with Retry-After: %d; before the retries the database held %d documents of the run, the bucket %d objects under the authorization (every run's, each with its metadata), for %d uploads answered 201",
		during, len(refused), first.rows, first.objects, first.acked)
	o.notef("the %d refused uploads sent again with their keys: %s (replays of the 503: %d)", len(refused), formatCounts(statusCounts(o.retries)), replayed)
	if len(o.problems) > 6 {
		o.problems = append(o.problems[:6], fmt.Sprintf("... and %d more", len(o.problems)-6))
	}
	return o
}

// docWrites is the read-back of scenario j: the writes, and the objects the bucket holds.
type docWrites struct {
	writes
	objects int
}

// readBackDocuments counts the run's documents (by file name) in interventions' database and
// their objects in the bucket: a document answered 201 missing, or whose object is missing, is
// lost; a document no answer named, or an object no document names, is stored unacknowledged;
// each document answered is read once through its presigned link and its bytes checked.
func readBackDocuments(ctx context.Context, e *env, authID uuid.UUID, run string, results []result) (docWrites, error) {
	acked := map[string]bool{}
	for _, r := range results {
		if r.ok() && r.id != "" {
			acked[r.id] = true
		}
	}
	w := docWrites{writes: writes{acked: len(acked)}}
	conn, err := pgx.Connect(ctx, e.s.DatabaseURL("interventions"))
	if err != nil {
		return w, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT id::text, filename, object_key, ambito_id::text FROM documents WHERE authorization_id = $1`, authID)
	if err != nil {
		return w, err
	}
	type doc struct{ id, filename, key, ambito string }
	var docs []doc
	for rows.Next() {
		var d doc
		if err := rows.Scan(&d.id, &d.filename, &d.key, &d.ambito); err != nil {
			return w, err
		}
		docs = append(docs, d)
	}
	if rows.Err() != nil {
		return w, rows.Err()
	}
	s3, err := docstore.NewS3(e.s3.cfg)
	if err != nil {
		return w, err
	}
	byKey := map[string]bool{}
	byName := map[string]int{}
	prefix := ""
	for _, d := range docs {
		byKey[d.key] = true
		prefix = "interventions/" + d.ambito + "/" + authID.String() + "/"
		if !strings.HasPrefix(d.filename, "chaos-"+run+"-") {
			continue
		}
		w.rows++
		if byName[d.filename]++; byName[d.filename] > 1 {
			w.duplicated++
		}
		if !acked[d.id] {
			w.unacked++
		}
	}
	keys, err := s3.List(ctx, prefix)
	if err != nil {
		return w, fmt.Errorf("list the bucket: %w", err)
	}
	inBucket := map[string]bool{}
	for _, k := range keys {
		inBucket[k] = true
		if !byKey[k] {
			w.unacked++ // an object without its metadata
		}
	}
	w.objects = len(keys)
	found := map[string]bool{}
	for _, d := range docs {
		if acked[d.id] {
			found[d.id] = true
			if !inBucket[d.key] {
				w.lost++
			}
		}
	}
	w.lost += len(acked) - len(found)
	return w, nil
}

// readLink asks for a document's presigned link and checks the bytes it serves.
func readLink(ctx context.Context, iv *ivChaos, token, id string, want []byte) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, iv.base+"/v1/documents/"+id+"/link", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", uuid.NewString())
	resp, err := iv.http.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var l struct {
		URL string `json:"url"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &l) != nil || l.URL == "" {
		return fmt.Errorf("link: status %d %.200s", resp.StatusCode, b)
	}
	get, err := iv.http.Get(l.URL)
	if err != nil {
		return err
	}
	defer get.Body.Close()
	got, _ := io.ReadAll(get.Body)
	if get.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
		return fmt.Errorf("its link answered status %d with %d bytes, not the %d uploaded", get.StatusCode, len(got), len(want))
	}
	return nil
}
