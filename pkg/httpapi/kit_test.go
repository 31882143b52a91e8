package httpapi_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

type thing struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func TestNewServer(t *testing.T) {
	decode := func(_ context.Context, r *http.Request) (any, error) {
		var req thing
		if err := httpapi.DecodeJSON(r, &req); err != nil {
			return nil, err
		}
		return req, nil
	}
	tests := []struct {
		name       string
		endpoint   func(ctx context.Context, req any) (any, error)
		body       string
		wantStatus int
		wantHeader map[string]string
		wantBody   string
	}{
		{
			name: "created",
			endpoint: func(_ context.Context, req any) (any, error) {
				th := req.(thing)
				th.ID = "t-1"
				return httpapi.Created{Body: th, Location: "/v1/things/t-1"}, nil
			},
			body:       `{"name":"Anna"}`,
			wantStatus: 201,
			wantHeader: map[string]string{"Location": "/v1/things/t-1", "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"},
			wantBody:   `{"id":"t-1","name":"Anna"}`,
		},
		{
			name: "with etag",
			endpoint: func(context.Context, any) (any, error) {
				return httpapi.WithETag{Body: thing{ID: "t-1"}, ETag: httpapi.ETag(4)}, nil
			},
			body:       `{}`,
			wantStatus: 200,
			wantHeader: map[string]string{"ETag": `"4"`, "Location": ""},
			wantBody:   `{"id":"t-1","name":""}`,
		},
		{
			name: "with etag and a status",
			endpoint: func(context.Context, any) (any, error) {
				return httpapi.WithETag{Body: thing{ID: "t-1"}, ETag: httpapi.ETag(1), Status: http.StatusCreated}, nil
			},
			body:       `{}`,
			wantStatus: 201,
			wantHeader: map[string]string{"ETag": `"1"`},
			wantBody:   `{"id":"t-1","name":""}`,
		},
		{
			name: "accepted",
			endpoint: func(context.Context, any) (any, error) {
				return httpapi.Accepted{Body: thing{ID: "job-1"}, Location: "/v1/jobs/job-1"}, nil
			},
			body:       `{}`,
			wantStatus: 202,
			wantHeader: map[string]string{"Location": "/v1/jobs/job-1"},
			wantBody:   `{"id":"job-1","name":""}`,
		},
		{
			name: "already encoded, with etag",
			endpoint: func(context.Context, any) (any, error) {
				return httpapi.WithETag{Body: json.RawMessage(`{"id":"t-1","name":"Anna"}`), ETag: httpapi.ETag(3)}, nil
			},
			body:       `{}`,
			wantStatus: 200,
			wantHeader: map[string]string{"ETag": `"3"`, "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"},
			wantBody:   `{"id":"t-1","name":"Anna"}`,
		},
		{
			name:       "already encoded",
			endpoint:   func(context.Context, any) (any, error) { return json.RawMessage(`{"items":[]}`), nil },
			body:       `{}`,
			wantStatus: 200,
			wantHeader: map[string]string{"Content-Type": "application/json; charset=utf-8", "ETag": ""},
			wantBody:   `{"items":[]}`,
		},
		{
			name:       "no content",
			endpoint:   func(context.Context, any) (any, error) { return httpapi.NoContent{}, nil },
			body:       `{}`,
			wantStatus: 204,
			wantBody:   ``,
		},
		{
			name:       "endpoint error is a problem",
			endpoint:   func(context.Context, any) (any, error) { return nil, errs.E(errs.NotFound, "no such thing") },
			body:       `{}`,
			wantStatus: 404,
			wantHeader: map[string]string{"Content-Type": httpapi.ProblemContentType},
			wantBody:   `{"type":"urn:csi:problem:not_found","title":"Not Found","status":404,"detail":"no such thing","instance":"/v1/things","request_id":"req-9"}`,
		},
		{
			name:       "decoder error is a problem naming the field",
			endpoint:   func(context.Context, any) (any, error) { t.Error("endpoint called on a bad body"); return nil, nil },
			body:       `{"name":"Anna","color":"red"}`,
			wantStatus: 400,
			wantHeader: map[string]string{"Content-Type": httpapi.ProblemContentType},
			wantBody: `{"type":"urn:csi:problem:invalid","title":"Bad Request","status":400,"detail":"the request has invalid fields",` +
				`"instance":"/v1/things","request_id":"req-9","errors":[{"field":"color","message":"is not a known field"}]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httpapi.NewServer(slog.New(slog.DiscardHandler), tc.endpoint, decode)
			h := httpapi.Chain(srv, httpapi.RequestIDs())
			r := httptest.NewRequest(http.MethodPost, "/v1/things", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set(httpapi.RequestIDHeader, "req-9")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d (body %s)", rec.Code, tc.wantStatus, rec.Body.String())
			}
			for k, want := range tc.wantHeader {
				if got := rec.Header().Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			if tc.wantBody == "" {
				if rec.Body.Len() != 0 {
					t.Errorf("body = %q, want empty", rec.Body.String())
				}
				return
			}
			var got, want any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", rec.Body.String(), err)
			}
			if err := json.Unmarshal([]byte(tc.wantBody), &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProblemMarshalJSON(t *testing.T) {
	p := httpapi.Problem{Type: "urn:csi:problem:conflict", Title: "Conflict", Status: 409,
		Extra: map[string]any{"existing_id": "x-1", "title": "overridden?"}}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"type": "urn:csi:problem:conflict", "title": "Conflict", "status": float64(409), "existing_id": "x-1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problem JSON (-want +got):\n%s", diff)
	}
}
