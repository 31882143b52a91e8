package openapitest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/openapitest"
)

// sweepDoc is a small secured contract with a body, a path id, a query parameter and a
// custom verb.
const sweepDoc = `
openapi: 3.1.0
info: {title: Notes, version: "1"}
security:
  - bearerAuth: []
paths:
  /v1/notes:
    get:
      operationId: listNotes
      parameters:
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 100}}
      responses:
        "200": {description: Notes., content: {application/json: {schema: {type: object}}}}
        "400": {$ref: "#/components/responses/Problem"}
        "401": {$ref: "#/components/responses/Problem"}
    post:
      operationId: createNote
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              required: [text, pages]
              properties:
                text: {type: string, maxLength: 100}
                pages: {type: integer, minimum: 1}
                done_on: {type: string, format: date}
      responses:
        "201": {description: Created., content: {application/json: {schema: {type: object}}}}
        "400": {$ref: "#/components/responses/Problem"}
        "401": {$ref: "#/components/responses/Problem"}
  /v1/notes/{id}:archive:
    parameters:
      - {name: id, in: path, required: true, schema: {type: string, format: uuid}}
    post:
      operationId: archiveNote
      responses:
        "204": {description: Archived.}
        "400": {$ref: "#/components/responses/Problem"}
        "401": {$ref: "#/components/responses/Problem"}
        "404": {$ref: "#/components/responses/Problem"}
  /healthz:
    get:
      operationId: health
      security: []
      responses:
        "200": {description: Alive., content: {text/plain: {schema: {type: string}}}}
components:
  securitySchemes:
    bearerAuth: {type: http, scheme: bearer}
  responses:
    Problem:
      description: A problem.
      content:
        application/problem+json:
          schema: {$ref: "#/components/schemas/Problem"}
  schemas:
    Problem:
      type: object
      required: [type, title, status]
      properties:
        type: {type: string}
        title: {type: string}
        status: {type: integer}
`

// goodToken is the one token the notes service takes (shaped as a JWT, so that the sweep
// forges tokens from it).
const goodToken = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJzdWIiOiJhIiwicm9sZSI6InJlYWRlciJ9.c2lnbmF0dXJlLWJ5dGVz"

// notes is a fake service of sweepDoc; buggy makes it answer 500 to a bad id and write a
// note whatever the body.
func notes(buggy bool, written *atomic.Int64) http.Handler {
	problem := func(w http.ResponseWriter, status int) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"type": "urn:x", "title": http.StatusText(status), "status": status})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /v1/notes", func(w http.ResponseWriter, r *http.Request) {
		if l := r.URL.Query().Get("limit"); l != "" && l != "1" || !utf8.ValidString(r.URL.RawQuery) {
			problem(w, 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	})
	mux.HandleFunc("POST /v1/notes", func(w http.ResponseWriter, r *http.Request) {
		if buggy {
			written.Add(1)
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		var v struct {
			Text  *string `json:"text"`
			Pages *int    `json:"pages"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err != nil || r.Header.Get("Content-Type") != "application/json" || !utf8.Valid(body) || dec.Decode(&v) != nil ||
			v.Text == nil || v.Pages == nil || *v.Pages < 1 || len(*v.Text) > 100 || strings.ContainsRune(*v.Text, 0) {
			problem(w, 400)
			return
		}
		problem(w, 400) // the sweep never sends a valid note
	})
	mux.HandleFunc("POST /v1/notes/{verb}", func(w http.ResponseWriter, r *http.Request) {
		id, ok := strings.CutSuffix(r.PathValue("verb"), ":archive")
		if _, err := uuid.Parse(id); !ok || err != nil {
			if buggy {
				problem(w, 500)
				return
			}
			problem(w, 400)
			return
		}
		problem(w, 404)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && r.Header.Get("Authorization") != "Bearer "+goodToken {
			problem(w, 401)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func sweepNotes(t *testing.T, buggy bool) {
	var written atomic.Int64
	srv := httptest.NewServer(notes(buggy, &written))
	t.Cleanup(srv.Close)
	c := openapitest.Load(t, []byte(sweepDoc))
	c.Sweep(t, openapitest.SweepConfig{
		BaseURL: srv.URL,
		Client:  srv.Client(),
		Token:   func(op openapitest.Operation) string { return goodToken },
		BadTokens: func() map[string]string {
			return map[string]string{"expired": "eyJhbGciOiJFZERTQSJ9.eyJleHAiOjF9.c2ln"}
		},
		PathParams: func(op openapitest.Operation) map[string]string { return map[string]string{"id": uuid.NewString()} },
		Rows:       func(testing.TB) map[string]int64 { return map[string]int64{"notes": written.Load()} },
	})
}

// TestSweep: a service that refuses bad input properly passes the sweep.
func TestSweep(t *testing.T) { sweepNotes(t, false) }

// TestSweepFindsBugs runs the sweep on a buggy service in a child process and checks that it
// fails for each bug: a 500 to a path id that is not an id, a write on a refused request.
func TestSweepFindsBugs(t *testing.T) {
	if os.Getenv("CSI_SWEEP_BUGGY") == "1" {
		sweepNotes(t, true)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSweepFindsBugs$", "-test.v")
	cmd.Env = append(os.Environ(), "CSI_SWEEP_BUGGY=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the sweep passed a buggy service:\n%s", out)
	}
	for _, want := range []string{
		`path id="not-a-uuid": POST /v1/notes/not-a-uuid:archive (0-byte body) = 500, want a 4xx`,
		"the bad requests wrote to the database: notes:",
		"--- PASS: TestSweepFindsBugs/listNotes",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the sweep's output does not mention %q:\n%s", want, out)
		}
	}
}
