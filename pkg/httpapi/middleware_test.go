package httpapi_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/httpapi"
)

func TestRecover(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		nilLog     bool
		wantStatus int
		wantBody   string // substring of the body
		wantLogged bool
	}{
		{
			name:       "panic before writing answers a 500 problem",
			handler:    func(w http.ResponseWriter, r *http.Request) { panic("secret panic text: RSSMRA80A01F205X") },
			wantStatus: 500,
			wantBody:   `"type":"urn:csi:problem:internal"`,
			wantLogged: true,
		},
		{
			name: "panic after writing keeps the status already sent",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusAccepted)
				panic("secret panic text")
			},
			wantStatus: 202,
			wantLogged: true,
		},
		{
			name:       "panic with a nil logger still answers",
			handler:    func(w http.ResponseWriter, r *http.Request) { panic("secret panic text") },
			nilLog:     true,
			wantStatus: 500,
			wantBody:   `"status":500`,
		},
		{
			name:       "no panic passes through",
			handler:    func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) },
			wantStatus: 418,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			if tc.nilLog {
				log = nil
			}
			h := httpapi.Chain(tc.handler, httpapi.RequestIDs(), httpapi.Recover(log))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boom", nil))
			if rec.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tc.wantStatus)
			}
			if !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("body = %s, want it to contain %s", rec.Body.String(), tc.wantBody)
			}
			if strings.Contains(rec.Body.String(), "secret") {
				t.Errorf("body = %s leaks the panic", rec.Body.String())
			}
			if got := strings.Contains(logs.String(), "secret panic text"); got != tc.wantLogged {
				t.Errorf("panic logged = %v, want %v (log: %s)", got, tc.wantLogged, logs.String())
			}
			if tc.wantLogged && !strings.Contains(logs.String(), `"stack"`) {
				t.Errorf("log %s has no stack", logs.String())
			}
		})
	}
}

func TestRecoverReraisesAbortHandler(t *testing.T) {
	h := httpapi.Recover(slog.New(slog.DiscardHandler))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler re-raised", v)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	t.Error("ServeHTTP returned; want the panic re-raised")
}

func TestRequestIDs(t *testing.T) {
	tests := []struct {
		name     string
		incoming string
		keep     bool
	}{
		{name: "valid id kept", incoming: "3f2a-Upstream_id.7", keep: true},
		{name: "64 characters kept", incoming: strings.Repeat("a", 64), keep: true},
		{name: "none made", incoming: ""},
		{name: "65 characters replaced", incoming: strings.Repeat("a", 65)},
		{name: "markup replaced", incoming: "<script>alert(1)</script>"},
		{name: "log injection replaced", incoming: "abc\" level=ERROR msg=forged"},
		{name: "space replaced", incoming: "abc def"},
		{name: "non-ASCII replaced", incoming: "àbc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var inCtx string
			h := httpapi.RequestIDs()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inCtx = httpapi.RequestID(r.Context())
			}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.incoming != "" {
				r.Header.Set(httpapi.RequestIDHeader, tc.incoming)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			echoed := rec.Header().Get(httpapi.RequestIDHeader)
			if echoed != inCtx {
				t.Errorf("echoed id %q, id in context %q: want the same", echoed, inCtx)
			}
			if tc.keep {
				if inCtx != tc.incoming {
					t.Errorf("id = %q, want the incoming %q kept", inCtx, tc.incoming)
				}
				return
			}
			if inCtx == tc.incoming {
				t.Errorf("id = %q, want the incoming one replaced", inCtx)
			}
			if len(inCtx) != 32 || strings.Trim(inCtx, "0123456789abcdef") != "" {
				t.Errorf("id = %q, want 32 hex digits", inCtx)
			}
		})
	}
}

func TestNewRequestIDUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := httpapi.NewRequestID()
		if seen[id] {
			t.Fatalf("NewRequestID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestRoute(t *testing.T) {
	mux := httpapi.NewMux()
	var inner string
	mux.HandleFunc("GET /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		inner = httpapi.Route(r)
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("POST /v1/things", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })

	tests := []struct {
		name       string
		method     string
		path       string
		wantRoute  string
		wantStatus int
	}{
		{name: "path with an id", method: http.MethodGet, path: "/v1/things/42", wantRoute: "GET /v1/things/{id}", wantStatus: 200},
		{name: "another id same route", method: http.MethodGet, path: "/v1/things/RSSMRA80A01F205X", wantRoute: "GET /v1/things/{id}", wantStatus: 200},
		{name: "post route", method: http.MethodPost, path: "/v1/things", wantRoute: "POST /v1/things", wantStatus: 201},
		{name: "unknown path", method: http.MethodGet, path: "/v1/nothing/7", wantRoute: "unmatched", wantStatus: 404},
		{name: "wrong method", method: http.MethodDelete, path: "/v1/things/42", wantRoute: "unmatched", wantStatus: 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var outer string
			observe := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					next.ServeHTTP(w, r)
					outer = httpapi.Route(r)
				})
			}
			h := httpapi.Chain(mux, httpapi.RequestIDs(), observe)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tc.wantStatus)
			}
			if outer != tc.wantRoute {
				t.Errorf("Route() in outer middleware = %q, want %q", outer, tc.wantRoute)
			}
		})
	}
	if inner != "GET /v1/things/{id}" {
		t.Errorf("Route() in the handler = %q, want %q", inner, "GET /v1/things/{id}")
	}
}

func TestChainOrder(t *testing.T) {
	var order []string
	mw := func(name string) httpapi.Middleware {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, name+" in")
				next.ServeHTTP(w, r)
				order = append(order, name+" out")
			})
		}
	}
	h := httpapi.Chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { order = append(order, "handler") }),
		mw("first"), mw("second"))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	want := []string{"first in", "second in", "handler", "second out", "first out"}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestAccessLog(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		wantLevel string
	}{
		{name: "success at debug", status: 200, wantLevel: "DEBUG"},
		{name: "client error at debug", status: 404, wantLevel: "DEBUG"},
		{name: "server error at warn", status: 502, wantLevel: "WARN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			mux := httpapi.NewMux()
			mux.HandleFunc("GET /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(tc.status) })
			h := httpapi.Chain(mux, httpapi.RequestIDs(), httpapi.AccessLog(log))
			r := httptest.NewRequest(http.MethodGet, "/v1/things/42", nil)
			r.Header.Set(httpapi.RequestIDHeader, "req-1")
			h.ServeHTTP(httptest.NewRecorder(), r)
			var got map[string]any
			if err := json.Unmarshal(logs.Bytes(), &got); err != nil {
				t.Fatalf("log line %q: %v", logs.String(), err)
			}
			want := map[string]any{"level": tc.wantLevel, "route": "GET /v1/things/{id}", "status": float64(tc.status),
				"request_id": "req-1", "method": "GET"}
			for k, w := range want {
				if diff := cmp.Diff(w, got[k]); diff != "" {
					t.Errorf("log attribute %q (-want +got):\n%s", k, diff)
				}
			}
			if strings.Contains(logs.String(), "/v1/things/42") {
				t.Errorf("log line %s holds the raw path", logs.String())
			}
		})
	}
}

func TestIfMatch(t *testing.T) {
	tests := []struct {
		name     string
		header   string
		want     int64
		wantCode int // 0 when valid
	}{
		{name: "strong tag", header: `"3"`, want: 3},
		{name: "weak tag", header: `W/"12"`, want: 12},
		{name: "surrounding space", header: `  "7" `, want: 7},
		{name: "ETag round trip", header: httpapi.ETag(9000000000), want: 9000000000},
		{name: "missing", header: "", wantCode: 428},
		{name: "not a number", header: `"abc"`, wantCode: 400},
		{name: "star", header: `*`, wantCode: 400},
		{name: "zero", header: `"0"`, wantCode: 400},
		{name: "negative", header: `"-1"`, wantCode: 400},
		{name: "a list", header: `"1", "2"`, wantCode: 400},
		{name: "overflow", header: `"99999999999999999999"`, wantCode: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPatch, "/v1/things/1", nil)
			if tc.header != "" {
				r.Header.Set("If-Match", tc.header)
			}
			got, err := httpapi.IfMatch(r)
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatalf("IfMatch(%q) = %v, want %d", tc.header, err, tc.want)
				}
				if got != tc.want {
					t.Errorf("IfMatch(%q) = %d, want %d", tc.header, got, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("IfMatch(%q) = %d, nil; want status %d", tc.header, got, tc.wantCode)
			}
			if code := httpapi.StatusOf(err); code != tc.wantCode {
				t.Errorf("StatusOf(IfMatch(%q)) = %d, want %d", tc.header, code, tc.wantCode)
			}
			_, fields := fieldsOf(t, err)
			if diff := cmp.Diff([]string{"If-Match"}, fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestETag(t *testing.T) {
	if got, want := httpapi.ETag(3), `"3"`; got != want {
		t.Errorf("ETag(3) = %s, want %s", got, want)
	}
}

// TestMuxRefusesNonText: a path or query parameter with invalid UTF-8 or a NUL is a 400
// problem naming it, before the handler runs.
func TestMuxRefusesNonText(t *testing.T) {
	mux := httpapi.NewMux()
	mux.HandleFunc("GET /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	tests := []struct {
		name, target string
		wantStatus   int
		wantField    string
	}{
		{"plain", "/v1/things/abc?q=Caf%C3%A8", http.StatusNoContent, ""},
		{"invalid UTF-8 in the query", "/v1/things/abc?q=%FF%FE", http.StatusBadRequest, "q"},
		{"NUL in the query", "/v1/things/abc?q=a%00b", http.StatusBadRequest, "q"},
		{"invalid UTF-8 in the path", "/v1/things/%FF", http.StatusBadRequest, "id"},
		{"NUL in the path", "/v1/things/a%00", http.StatusBadRequest, "id"},
		{"invalid UTF-8 in a parameter name", "/v1/things/abc?%FF=1", http.StatusBadRequest, "query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", tt.target, nil))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantField == "" {
				return
			}
			var p struct{ Errors []struct{ Field string } }
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || len(p.Errors) == 0 || p.Errors[0].Field != tt.wantField {
				t.Errorf("problem = %s, want an error on %q", rec.Body, tt.wantField)
			}
			if ct := rec.Header().Get("Content-Type"); ct != httpapi.ProblemContentType {
				t.Errorf("content type %q, want %q", ct, httpapi.ProblemContentType)
			}
		})
	}
}
