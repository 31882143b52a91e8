package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

// TestUnmarshalRefusesNUL: a NUL character in any string of a JSON body, at any depth, in a
// value or a member name, is an invalid field naming the member; an escaped backslash before
// "u0000" is no NUL.
func TestUnmarshalRefusesNUL(t *testing.T) {
	tests := []struct {
		name, body string
		wantField  string // "" when decoding succeeds
	}{
		{"top-level value", `{"name":"a\u0000b"}`, "name"},
		{"only a NUL", `{"name":"\u0000"}`, "name"},
		{"nested value", `{"name":"x","residence":{"street":"Via\u0000Roma"}}`, "residence.street"},
		{"in an array", `{"tags":["a","b\u0000"]}`, "tags"},
		{"after a nested object", `{"residence":{"street":"x"},"name":"\u0000"}`, "name"},
		{"member name", `{"na\u0000me":"x"}`, "na\x00me"},
		{"not a known field either", `{"zz":"\u0000"}`, "zz"},
		{"escaped backslash", `{"name":"a\\u0000b"}`, ""},
		{"other controls pass the decoder", `{"name":"a\u0001b\u001f"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p person
			err := httpapi.Unmarshal([]byte(tt.body), &p)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Unmarshal(%s) = %v, want success", tt.body, err)
				}
				return
			}
			kind, fields := fieldsOf(t, err)
			if kind != errs.Invalid || len(fields) != 1 || fields[0] != tt.wantField {
				t.Errorf("Unmarshal(%s) = %v %v, want invalid %q", tt.body, kind, fields, tt.wantField)
			}
		})
	}
}

// TestMuxRefusesControls: a query parameter holding any control character (tab and line
// breaks included: every parameter is single-line) is a 400 naming it; so is a form body
// checked with CheckForm.
func TestMuxRefusesControls(t *testing.T) {
	mux := httpapi.NewMux()
	mux.HandleFunc("GET /v1/things", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, tt := range []struct {
		name, query string
		wantStatus  int
	}{
		{"plain", "q=Caf%C3%A8+%E2%82%AC", http.StatusNoContent},
		{"space", "q=a+b", http.StatusNoContent},
		{"SOH", "q=a%01b", http.StatusBadRequest},
		{"tab", "q=a%09b", http.StatusBadRequest},
		{"line feed", "q=a%0Ab", http.StatusBadRequest},
		{"escape", "q=a%1Bb", http.StatusBadRequest},
		{"DEL", "q=a%7Fb", http.StatusBadRequest},
		{"C1", "q=a%C2%85b", http.StatusBadRequest},
		{"second value", "q=a&q=b%01", http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/things?"+tt.query, nil))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus != http.StatusBadRequest {
				return
			}
			var p struct{ Errors []struct{ Field string } }
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || len(p.Errors) != 1 || p.Errors[0].Field != "q" {
				t.Errorf("problem = %s, want an error on q", rec.Body)
			}
			v, _ := url.ParseQuery(tt.query)
			if _, fields := fieldsOf(t, httpapi.CheckForm(v)); len(fields) != 1 || fields[0] != "q" {
				t.Errorf("CheckForm(%s) fields = %v, want q", tt.query, fields)
			}
		})
	}
	if err := httpapi.CheckForm(url.Values{"username": {"anna"}, "password": {strings.Repeat("é", 3)}}); err != nil {
		t.Errorf("CheckForm of plain values = %v", err)
	}
}
