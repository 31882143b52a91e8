package openapitest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/openapitest"
)

// petsDoc is a small contract with what the suite's documents use: a shared Problem schema,
// nullable and formatted fields, a required response header, a custom action path and a
// text/plain endpoint.
const petsDoc = `
openapi: 3.1.0
info:
  title: Pets
  version: "1"
security:
  - bearerAuth: []
paths:
  /v1/pets:
    get:
      operationId: listPets
      parameters:
        - name: limit
          in: query
          schema: {type: integer, minimum: 1, maximum: 500, default: 50}
      responses:
        "200":
          description: A page of pets.
          content:
            application/json:
              schema:
                type: object
                additionalProperties: false
                required: [items]
                properties:
                  items:
                    type: array
                    items: {$ref: "#/components/schemas/Pet"}
                  next_cursor: {type: string}
        "400": {$ref: "#/components/responses/Problem"}
        "401": {$ref: "#/components/responses/Problem"}
    post:
      operationId: createPet
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              required: [name]
              properties:
                name: {type: string, minLength: 1}
      responses:
        "201":
          description: Created.
          headers:
            ETag:
              required: true
              schema: {type: string, pattern: '^"[0-9]+"$'}
            Location:
              required: true
              schema: {type: string}
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Pet"}
        "400": {$ref: "#/components/responses/Problem"}
        "401": {$ref: "#/components/responses/Problem"}
  /v1/pets:adopt:
    post:
      operationId: adoptPets
      responses:
        "202": {description: Accepted; adopted later.}
        "204": {description: Adopted.}
        "401": {$ref: "#/components/responses/Problem"}
        "409":
          description: A looser problem schema than the shared one.
          content:
            application/problem+json:
              schema: {type: object}
  /v1/pets/{id}:
    parameters:
      - name: id
        in: path
        required: true
        schema: {type: string, format: uuid}
    get:
      operationId: getPet
      responses:
        "200":
          description: The pet.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Pet"}
        "404": {$ref: "#/components/responses/Problem"}
  /v1/pets/{id}:feed:
    parameters:
      - name: id
        in: path
        required: true
        schema: {type: string, format: uuid}
    post:
      operationId: feedPet
      requestBody:
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              properties:
                grams: {type: integer, minimum: 1}
      responses:
        "204": {description: Fed.}
        "404": {$ref: "#/components/responses/Problem"}
  /metrics:
    get:
      operationId: getMetrics
      security: []
      responses:
        "200":
          description: Metrics.
          content:
            text/plain:
              schema: {type: string}
components:
  securitySchemes:
    bearerAuth: {type: http, scheme: bearer, bearerFormat: JWT}
  responses:
    Problem:
      description: A problem.
      content:
        application/problem+json:
          schema: {$ref: "#/components/schemas/Problem"}
  schemas:
    Pet:
      type: object
      additionalProperties: false
      required: [id, name, born_on, created_at, owner_id]
      properties:
        id: {type: string, format: uuid}
        name: {type: string}
        born_on: {type: string, format: date}
        created_at: {type: string, format: date-time}
        owner_id: {type: [string, "null"], format: uuid}
        weight: {type: integer, format: int64}
    Problem:
      type: object
      required: [type, title, status]
      additionalProperties: true
      properties:
        type: {type: string}
        title: {type: string}
        status: {type: integer, minimum: 400, maximum: 599}
        detail: {type: string}
        errors:
          type: array
          items:
            type: object
            required: [field, message]
            properties:
              field: {type: string}
              message: {type: string}
`

const (
	petID   = "0190c0de-0000-7000-8000-000000000001"
	goodPet = `{"id":"` + petID + `","name":"Rex","born_on":"2020-01-02","created_at":"2024-05-01T10:00:00.123456Z","owner_id":null,"weight":12}`
)

// fakeTB records failures instead of failing the test, so that a test can assert that Check
// fails.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
	fatal  bool
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
	f.fatal = true
}

func (f *fakeTB) messages() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.errors, "\n")
}

// reply is a canned response a test server writes.
type reply struct {
	status      int
	contentType string
	headers     map[string]string
	body        string
}

func serve(t *testing.T, r reply) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if r.contentType != "" {
			w.Header().Set("Content-Type", r.contentType)
		}
		for k, v := range r.headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(r.status)
		_, _ = io.WriteString(w, r.body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestCheck(t *testing.T) {
	c := openapitest.Load(t, []byte(petsDoc))
	problem := func(status int) string {
		return fmt.Sprintf(`{"type":"urn:csi:problem:x","title":"x","status":%d,"request_id":"r1"}`, status)
	}
	tests := []struct {
		name   string
		method string
		path   string
		reply  reply
		// want lists substrings of the failure; none means the exchange conforms.
		want []string
	}{
		{
			name: "conforming object", method: "GET", path: "/v1/pets/" + petID,
			reply: reply{status: 200, contentType: "application/json", body: goodPet},
		},
		{
			name: "json with charset", method: "GET", path: "/v1/pets/" + petID,
			reply: reply{status: 200, contentType: "application/json; charset=utf-8", body: goodPet},
		},
		{
			name: "conforming list", method: "GET", path: "/v1/pets?limit=2",
			reply: reply{status: 200, contentType: "application/json", body: `{"items":[` + goodPet + `],"next_cursor":"abc"}`},
		},
		{
			name: "conforming problem", method: "GET", path: "/v1/pets/" + petID,
			reply: reply{status: 404, contentType: "application/problem+json", body: problem(404)},
		},
		{
			name: "problem with extension members", method: "GET", path: "/v1/pets/" + petID,
			reply: reply{status: 404, contentType: "application/problem+json",
				body: `{"type":"t","title":"t","status":404,"errors":[{"field":"id","message":"m"}],"error":"invalid_request"}`},
		},
		{
			name: "created with headers", method: "POST", path: "/v1/pets",
			reply: reply{status: 201, contentType: "application/json", headers: map[string]string{"ETag": `"1"`, "Location": "/v1/pets/" + petID}, body: goodPet},
		},
		{
			name: "custom action without body", method: "POST", path: "/v1/pets:adopt",
			reply: reply{status: 204},
		},
		{
			name: "custom verb after a parameter", method: "POST", path: "/v1/pets/" + petID + ":feed",
			reply: reply{status: 204},
		},
		{
			name: "custom verb after a parameter, undocumented status", method: "POST", path: "/v1/pets/" + petID + ":feed",
			reply: reply{status: 200, contentType: "application/json", body: goodPet},
			want:  []string{"-> 200"},
		},
		{
			name: "custom verb not documented for the method", method: "GET", path: "/v1/pets/" + petID + ":feed",
			reply: reply{status: 200, contentType: "application/json", body: goodPet},
			want:  []string{"GET"},
		},
		{
			name: "parameter path still matched beside a verb path", method: "GET", path: "/v1/pets/" + petID,
			reply: reply{status: 404, contentType: "application/problem+json", body: problem(404)},
		},
		{
			name: "text/plain with parameters", method: "GET", path: "/metrics",
			reply: reply{status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: "# HELP up\nup 1\n"},
		},
		{
			name: "undocumented status", method: "GET", path: "/v1/pets/" + petID,
			reply: reply{status: 500, contentType: "application/problem+json", body: problem(500)},
			want:  []string{"-> 500", "'500'"},
		},
		{
			name: "missing required field", method: "GET", path: "/v1/pets/" + petID,
			reply: reply{status: 200, contentType: "application/json", body: `{"id":"` + petID + `","born_on":"2020-01-02","created_at":"2024-05-01T10:00:00Z","owner_id":null}`},
			want:  []string{"response body", "missing property 'name'"},
		},
		{
			name: "wrong type", method: "GET", path: "/v1/pets/" + petID,
			reply: reply{status: 200, contentType: "application/json", body: strings.Replace(goodPet, `"Rex"`, `42`, 1)},
			want:  []string{"want string", "$.name"},
		},
		{
			name: "null where not nullable", method: "GET", path: "/v1/pets/" + petID,
			reply: reply{status: 200, contentType: "application/json", body: strings.Replace(goodPet, `"Rex"`, `null`, 1)},
			want:  []string{"$.name"},
		},
		{
			name: "unknown field", method: "GET", path: "/v1/pets/" + petID,
			reply: reply{status: 200, contentType: "application/json", body: strings.Replace(goodPet, `{`, `{"secret":"x",`, 1)},
			want:  []string{"secret"},
		},
		{
			name: "bad formats", method: "GET", path: "/v1/pets/" + petID,
			reply: reply{status: 200, contentType: "application/json",
				body: `{"id":"x","name":"Rex","born_on":"2020-13-02","created_at":"yesterday","owner_id":"nope"}`},
			want: []string{"$.id", "$.born_on", "$.created_at", "$.owner_id"},
		},
		{
			name: "undocumented path", method: "GET", path: "/v1/cats",
			reply: reply{status: 200, contentType: "application/json", body: `{}`},
			want:  []string{"/v1/cats", "not found"},
		},
		{
			name: "undocumented method", method: "DELETE", path: "/v1/pets/" + petID,
			reply: reply{status: 204},
			want:  []string{"DELETE"},
		},
		{
			name: "problem sent as plain json", method: "GET", path: "/v1/pets/" + petID,
			reply: reply{status: 404, contentType: "application/json", body: problem(404)},
			want:  []string{"content type 'application/json'"},
		},
		{
			name: "body on a status documented without one", method: "POST", path: "/v1/pets:adopt",
			reply: reply{status: 202, body: "done"},
			want:  []string{"without a body"},
		},
		{
			name: "missing required header", method: "POST", path: "/v1/pets",
			reply: reply{status: 201, contentType: "application/json", headers: map[string]string{"Location": "/v1/pets/" + petID}, body: goodPet},
			want:  []string{"response header", "ETag"},
		},
		{
			name: "malformed header", method: "POST", path: "/v1/pets",
			reply: reply{status: 201, contentType: "application/json", headers: map[string]string{"ETag": "1", "Location": "/v1/pets/" + petID}, body: goodPet},
			want:  []string{"response header etag", "pattern"},
		},
		{
			name: "problem against the shared schema", method: "POST", path: "/v1/pets:adopt",
			reply: reply{status: 409, contentType: "application/problem+json", body: `{"title":"Conflict","status":"409"}`},
			want:  []string{"components/schemas/Problem", "missing property 'type'", "$.status"},
		},
		{
			name: "invalid json", method: "GET", path: "/v1/pets/" + petID,
			reply: reply{status: 200, contentType: "application/json", body: `{"id":`},
			want:  []string{"response body"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, tt.reply)
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			fake := &fakeTB{TB: t}
			c.Check(fake, req, resp, body)
			got := fake.messages()
			if len(tt.want) == 0 {
				if got != "" {
					t.Errorf("Check failed a conforming exchange:\n%s", got)
				}
				return
			}
			if got == "" {
				t.Fatalf("Check passed; want a failure mentioning %q", tt.want)
			}
			if fake.fatal {
				t.Errorf("Check called Fatalf; want Errorf (it may run outside the test goroutine)")
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("failure message does not mention %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestTransport(t *testing.T) {
	c := openapitest.Load(t, []byte(petsDoc))
	tests := []struct {
		name     string
		path     string
		reply    reply
		wantFail bool
	}{
		{name: "conforming", path: "/v1/pets/" + petID, reply: reply{status: 200, contentType: "application/json", body: goodPet}},
		{name: "not conforming", path: "/v1/pets/" + petID, reply: reply{status: 200, contentType: "application/json", body: `{"id":1}`}, wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, tt.reply)
			fake := &fakeTB{TB: t}
			client := &http.Client{Transport: c.Transport(fake, srv.Client().Transport)}
			resp, err := client.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(body), tt.reply.body); diff != "" {
				t.Errorf("body read after the transport (-got +want):\n%s", diff)
			}
			if got := fake.messages() != ""; got != tt.wantFail {
				t.Errorf("transport reported a failure: %t, want %t; messages:\n%s", got, tt.wantFail, fake.messages())
			}
		})
	}
}

func TestCheckRequest(t *testing.T) {
	c := openapitest.Load(t, []byte(petsDoc))
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		want   []string
	}{
		{name: "valid create", method: "POST", path: "/v1/pets", body: `{"name":"Rex"}`},
		{name: "valid list", method: "GET", path: "/v1/pets?limit=10"},
		{name: "unknown field", method: "POST", path: "/v1/pets", body: `{"name":"Rex","age":3}`, want: []string{"request body", "age"}},
		{name: "wrong type", method: "POST", path: "/v1/pets", body: `{"name":3}`, want: []string{"request body", "$.name"}},
		{name: "limit out of range", method: "GET", path: "/v1/pets?limit=501", want: []string{"limit"}},
		{name: "id not a uuid", method: "GET", path: "/v1/pets/123", want: []string{"id"}},
		{name: "valid custom verb", method: "POST", path: "/v1/pets/" + petID + ":feed", body: `{"grams":5}`},
		{name: "custom verb, bad body", method: "POST", path: "/v1/pets/" + petID + ":feed", body: `{"grams":0}`, want: []string{"request body", "grams"}},
		{name: "custom verb, id not a uuid", method: "POST", path: "/v1/pets/123:feed", body: `{"grams":5}`, want: []string{"id"}},
		{name: "undocumented path", method: "GET", path: "/v1/cats", want: []string{"/v1/cats"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req := httptest.NewRequest(tt.method, "http://csi.test"+tt.path, body)
			req.Header.Set("Authorization", "Bearer x.y.z")
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			fake := &fakeTB{TB: t}
			c.CheckRequest(fake, req)
			got := fake.messages()
			if len(tt.want) == 0 && got != "" {
				t.Errorf("CheckRequest failed a valid request:\n%s", got)
			}
			if len(tt.want) > 0 && got == "" {
				t.Errorf("CheckRequest passed; want a failure mentioning %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("failure message does not mention %q:\n%s", w, got)
				}
			}
			if tt.body != "" {
				rest, err := io.ReadAll(req.Body)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(string(rest), tt.body); diff != "" {
					t.Errorf("request body after CheckRequest (-got +want):\n%s", diff)
				}
			}
		})
	}
}

func TestLoadRejects(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{name: "empty", doc: "", want: "empty"},
		{name: "not yaml", doc: "{{{", want: "parse"},
		{name: "openapi 3.0", doc: strings.Replace(petsDoc, "openapi: 3.1.0", "openapi: 3.0.3", 1), want: "3.1"},
		{name: "no info", doc: strings.Replace(petsDoc, "info:\n  title: Pets\n  version: \"1\"\n", "", 1), want: "info"},
		{name: "duplicate operationId", doc: strings.Replace(petsDoc, "operationId: createPet", "operationId: listPets", 1), want: `operationId "listPets"`},
		{name: "unresolved reference", doc: strings.Replace(petsDoc, `items: {$ref: "#/components/schemas/Pet"}`, `items: {$ref: "#/components/schemas/Cat"}`, 1), want: "Cat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeTB{TB: t}
			openapitest.Load(fake, []byte(tt.doc))
			if !fake.fatal {
				t.Fatalf("Load accepted the document; want a fatal failure mentioning %q", tt.want)
			}
			if got := fake.messages(); !strings.Contains(got, tt.want) {
				t.Errorf("Load failure does not mention %q:\n%s", tt.want, got)
			}
		})
	}
}

func TestOperations(t *testing.T) {
	c := openapitest.Load(t, []byte(petsDoc))
	want := []openapitest.Operation{
		{Method: "GET", Path: "/v1/pets", OperationID: "listPets"},
		{Method: "POST", Path: "/v1/pets", OperationID: "createPet"},
		{Method: "POST", Path: "/v1/pets:adopt", OperationID: "adoptPets"},
		{Method: "GET", Path: "/v1/pets/{id}", OperationID: "getPet"},
		{Method: "POST", Path: "/v1/pets/{id}:feed", OperationID: "feedPet"},
		{Method: "GET", Path: "/metrics", OperationID: "getMetrics"},
	}
	if diff := cmp.Diff(c.Operations(), want); diff != "" {
		t.Errorf("Operations() (-got +want):\n%s", diff)
	}
}

// TestConcurrentChecks loads contracts and runs checks from many goroutines at once, for the
// race detector.
func TestConcurrentChecks(t *testing.T) {
	one := serve(t, reply{status: 200, contentType: "application/json", body: goodPet})
	list := serve(t, reply{status: 200, contentType: "application/json", body: `{"items":[` + goodPet + `]}`})
	fake := &fakeTB{TB: t}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			c := openapitest.Load(fake, []byte(petsDoc))
			if fake.messages() != "" {
				return
			}
			client := &http.Client{Transport: c.Transport(fake, http.DefaultTransport)}
			url := one.URL + "/v1/pets/" + petID
			if i%2 == 0 {
				url = list.URL + "/v1/pets?limit=1"
			}
			resp, err := client.Get(url)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	if got := fake.messages(); got != "" {
		t.Errorf("concurrent conforming checks failed:\n%s", got)
	}
}

func TestRequestMediaTypes(t *testing.T) {
	c := openapitest.Load(t, []byte(petsDoc))
	got := map[string][]string{}
	for _, op := range c.Operations() {
		got[op.OperationID] = c.RequestMediaTypes(op)
	}
	want := map[string][]string{"listPets": nil, "createPet": {"application/json"}, "adoptPets": nil, "getPet": nil,
		"feedPet": {"application/json"}, "getMetrics": nil}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("RequestMediaTypes (-got +want):\n%s", diff)
	}
}
