package openapitest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
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
        - {name: cursor, in: query, schema: {type: string}}
        - {name: q, in: query, schema: {type: string}}
        - {name: on, in: query, schema: {type: string, format: date}}
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
                author:
                  type: object
                  additionalProperties: false
                  properties:
                    name: {type: string}
                tags:
                  type: array
                  items:
                    type: object
                    additionalProperties: false
                    properties:
                      label: {type: string}
      responses:
        "201": {description: Created., content: {application/json: {schema: {type: object}}}}
        "400": {$ref: "#/components/responses/Problem"}
        "401": {$ref: "#/components/responses/Problem"}
        "415": {$ref: "#/components/responses/Problem"}
  /v1/tokens:
    post:
      operationId: issueToken
      security: []
      requestBody:
        required: true
        content:
          application/x-www-form-urlencoded:
            schema:
              type: object
              required: [grant_type]
              properties:
                grant_type: {type: string}
                username: {type: string}
      responses:
        "200": {description: A token., content: {application/json: {schema: {type: object}}}}
        "400": {$ref: "#/components/responses/Problem"}
        "415": {$ref: "#/components/responses/Problem"}
  /v1/tags:
    get:
      operationId: listTags
      parameters:
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 100}}
        - {name: cursor, in: query, schema: {type: string}}
      responses:
        "200": {description: Tags., content: {application/json: {schema: {type: object}}}}
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
        "400": {$ref: "#/components/responses/Problem"}
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

// control reports a control character but tab and line breaks.
func control(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return (r < 0x20 || r >= 0x7f && r <= 0x9f) && !strings.ContainsRune("\t\n\r", r) })
}

// dateOK parses a date and reports whether it is plausible (2000..2100); stored is false for a
// date the "store" cannot hold (before year 1).
func dateOK(v string) (parsed, plausible, stored bool) {
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return false, false, true
	}
	return true, d.Year() >= 2000 && d.Year() <= 2100, d.Year() >= 1
}

// listCursor is the fake's cursor of a list with its criteria.
func listCursor(list string, q url.Values) string {
	return base64.RawURLEncoding.EncodeToString([]byte(list + "|" + q.Get("q") + "|" + q.Get("on")))
}

// notes is a fake service of sweepDoc that decodes through pkg/httpapi; buggy makes it answer
// 500 to a bad id, to control characters and to dates the store cannot hold, take implausible
// dates and any cursor, write a note whatever the body, decode JSON and forms laxly (the last
// of a repeated member wins, a form field given twice is taken once, a surrogate becomes
// U+FFFD, the content type is not told apart: 400 for every bad body) and redirect /healthz
// reached by a path with dot segments.
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
	list := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			text, on := q.Get("q"), q.Get("on")
			parsed, plausible, stored := dateOK(on)
			switch {
			case q.Get("limit") != "" && q.Get("limit") != "1", !utf8.ValidString(text), strings.ContainsRune(text, 0):
				problem(w, 400)
				return
			case buggy && (control(text) || on != "" && !stored):
				problem(w, 500) // the store refuses them
				return
			case control(text) || strings.ContainsAny(text, "\t\n\r"), on != "" && (!parsed || !plausible && !buggy):
				problem(w, 400)
				return
			case q.Get("cursor") != "" && !buggy && q.Get("cursor") != listCursor(name, q):
				problem(w, 400)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"items": []int{1}, "next_cursor": listCursor(name, q)})
		}
	}
	mux.HandleFunc("GET /v1/notes", list("notes"))
	mux.HandleFunc("GET /v1/tags", list("tags"))
	mux.HandleFunc("POST /v1/notes", func(w http.ResponseWriter, r *http.Request) {
		if buggy {
			written.Add(1)
		}
		var v struct {
			Text   *string `json:"text"`
			Pages  *int    `json:"pages"`
			DoneOn *string `json:"done_on"`
			Author struct {
				Name string `json:"name"`
			} `json:"author"`
			Tags []struct {
				Label string `json:"label"`
			} `json:"tags"`
		}
		if !buggy {
			if err := httpapi.DecodeJSON(r, &v); err != nil {
				httpapi.WriteProblem(r.Context(), nil, w, r, err)
				return
			}
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if buggy && (err != nil || r.Header.Get("Content-Type") != "application/json" || !utf8.Valid(body) || dec.Decode(&v) != nil) ||
			v.Text == nil || v.Pages == nil || *v.Pages < 1 || len(*v.Text) > 100 {
			problem(w, 400)
			return
		}
		parsed, plausible, stored := true, true, true
		if v.DoneOn != nil {
			parsed, plausible, stored = dateOK(*v.DoneOn)
		}
		if buggy && (control(*v.Text) || !stored) {
			problem(w, 500) // the store refuses them
			return
		}
		if control(*v.Text) || !parsed || !plausible && !buggy {
			problem(w, 400)
			return
		}
		problem(w, 400) // the sweep never sends a valid note
	})
	mux.HandleFunc("POST /v1/tokens", func(w http.ResponseWriter, r *http.Request) {
		if buggy {
			if r.ParseForm() != nil || r.PostForm.Get("grant_type") == "" {
				problem(w, 400)
				return
			}
			problem(w, 400) // no grant is valid
			return
		}
		v, err := httpapi.DecodeForm(r, 1<<10)
		if err == nil && v.Get("grant_type") == "" {
			err = errs.InvalidField("grant_type", "is required")
		}
		if err == nil {
			err = errs.InvalidField("grant_type", "is not supported")
		}
		httpapi.WriteProblem(r.Context(), nil, w, r, err)
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
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if open := path.Clean(r.URL.Path); open != "/healthz" && open != "/v1/tokens" &&
			r.Header.Get("Authorization") != "Bearer "+goodToken {
			problem(w, 401)
			return
		}
		mux.ServeHTTP(w, r)
	})
	canonical := httpapi.CanonicalPaths()(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if buggy && strings.Contains(r.URL.Path, "healthz") {
			h.ServeHTTP(w, r)
			return
		}
		canonical.ServeHTTP(w, r)
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
		// A repeated member (top level, nested object, array of objects), a surrogate.
		"syntax (application/json): member text given twice: POST /v1/notes (",
		"= 400, the problem does not name text: ",
		"syntax (application/json): member author.name given twice: POST /v1/notes (",
		"= 400, the problem does not name author.name: ",
		"= 400, the problem does not name tags[0].label: ",
		`syntax (application/json): author.name holding \ud800`,
		"= 400, the problem does not name author.name: ",
		// A form field given twice.
		"syntax (application/x-www-form-urlencoded): field username given twice: POST /v1/tokens (",
		"= 400, the problem does not name username: ",
		// No or another content type.
		"syntax: body without Content-Type: POST /v1/notes (",
		`syntax: body with Content-Type "text/plain": POST /v1/tokens (`,
		"= 400, want 415: ",
		// A path ServeMux cleans.
		"syntax: path //healthz: GET //healthz (0-byte body) = 307, want a 4xx",
		"syntax: path /x/../healthz: GET /x/../healthz (0-byte body) = 307, want a 4xx",
		"syntax: path /%2e%2e/healthz: GET /%2e%2e/healthz (0-byte body) = 404, content type",
		`query q="a\x01b": GET /v1/notes?q=a%01b (0-byte body) = 500, want a 4xx`,
		`query q="a\u0085b": GET /v1/notes?q=a%C2%85b (0-byte body) = 500, want a 4xx`,
		`query on="0000-01-01": GET /v1/notes?on=0000-01-01 (0-byte body) = 500, want a 4xx`,
		`query on="2999-12-31": GET /v1/notes?on=2999-12-31 (0-byte body) = 200, want a 4xx`,
		`body: text = "a\u0000b": POST /v1/notes`,
		`body: text = "a\u001bb": POST /v1/notes`,
		`body: done_on = "0000-01-01": POST /v1/notes`,
		"cursor of listTags: GET /v1/notes?cursor=",
		"cursor of listNotes: GET /v1/tags?cursor=",
		"own cursor with q=",
		"own cursor with on=",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the sweep's output does not mention %q:\n%s", want, out)
		}
	}
}
