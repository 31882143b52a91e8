package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

type household struct {
	Name    string `json:"name"`
	Members []struct {
		Name string `json:"name"`
		Age  int    `json:"age"`
	} `json:"members"`
	Head struct {
		Name string `json:"name"`
	} `json:"head"`
	Labels map[string]string `json:"labels"`
}

// manyLabels is an object of n distinct members, then the given extra members.
func manyLabels(n int, extra string) string {
	var b strings.Builder
	b.WriteString(`{"labels":{`)
	for i := range n {
		fmt.Fprintf(&b, `"k%d":"v",`, i)
	}
	b.WriteString(extra + `}}`)
	return b.String()
}

// TestUnmarshalMembers: a member repeated in an object, at any depth, and an escaped UTF-16
// surrogate that is not half of a pair are refused naming the field; encoding/json would keep
// the last member and turn the surrogate into U+FFFD.
func TestUnmarshalMembers(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantField string // "" when the body is accepted
	}{
		{name: "distinct members", body: `{"name":"a","head":{"name":"b"},"members":[{"name":"c"},{"name":"d","age":1}]}`},
		{name: "repeated member", body: `{"name":"a","name":"b"}`, wantField: "name"},
		{name: "repeated with the same value", body: `{"name":"a","name":"a"}`, wantField: "name"},
		{name: "repeated with space around", body: "{ \"name\" : \"a\" ,\n \"name\" : \"b\" }", wantField: "name"},
		{name: "repeated in a nested object", body: `{"head":{"name":"a","name":"b"}}`, wantField: "head.name"},
		{name: "repeated in an array of objects", body: `{"members":[{"name":"a"},{"name":"b","age":1,"name":"c"}]}`, wantField: "members[1].name"},
		{name: "repeated object member", body: `{"head":{"name":"a"},"head":{"name":"b"}}`, wantField: "head"},
		{name: "repeated through an escape", body: `{"name":"a","\u006eame":"b"}`, wantField: "name"},
		{name: "repeated in another case", body: `{"name":"a","NAME":"b"}`, wantField: "NAME"},
		{name: "repeated map key", body: `{"labels":{"x":"1","x":"2"}}`, wantField: "labels.x"},
		{name: "many distinct members", body: manyLabels(40, `"last":"v"`)},
		{name: "repeated after many members", body: manyLabels(40, `"k3":"v"`), wantField: "labels.k3"},
		{name: "repeated in another case after many members", body: manyLabels(40, `"K39":"v"`), wantField: "labels.K39"},
		{name: "a member name inside a string", body: `{"name":"x\",\"name\":\"y"}`},
		{name: "same name in sibling objects", body: `{"members":[{"name":"a"},{"name":"b"}],"head":{"name":"c"}}`},

		{name: "lone high surrogate", body: `{"name":"\ud800"}`, wantField: "name"},
		{name: "lone low surrogate", body: `{"name":"\udc00x"}`, wantField: "name"},
		{name: "high surrogate then a letter escape", body: `{"name":"\ud800\u0041"}`, wantField: "name"},
		{name: "high surrogate then text", body: `{"name":"\uD800x"}`, wantField: "name"},
		{name: "two high surrogates", body: `{"name":"\ud800\ud800"}`, wantField: "name"},
		{name: "high surrogate at the end", body: `{"name":"ab\udbff"}`, wantField: "name"},
		{name: "surrogate in an array of objects", body: `{"members":[{"name":"ok"},{"name":"\uDBFF"}]}`, wantField: "members[1].name"},
		{name: "surrogate in a member name", body: `{"labels":{"\ud800":"x"}}`, wantField: "labels"},
		{name: "surrogate pair", body: `{"name":"\ud83d\ude00"}`},
		{name: "replacement character as a literal", body: "{\"name\":\"\uFFFD\"}"},
		{name: "replacement character as an escape", body: `{"name":"\ufffd"}`},
		{name: "escaped backslash before u", body: `{"name":"\\ud800"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got household
			err := httpapi.Unmarshal([]byte(tc.body), &got)
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("Unmarshal(%s) = %v, want nil", tc.body, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Unmarshal(%s) = nil, decoded %+v; want an error naming %q", tc.body, got, tc.wantField)
			}
			kind, fields := fieldsOf(t, err)
			if kind != errs.Invalid {
				t.Errorf("kind = %v, want %v", kind, errs.Invalid)
			}
			if diff := cmp.Diff([]string{tc.wantField}, fields); diff != "" {
				t.Errorf("invalid fields of %q (-want +got):\n%s", err, diff)
			}
		})
	}
}

// TestDecodeJSONMediaType: a body without Content-Type or of another media type is a 415
// naming the Content-Type header.
func TestDecodeJSONMediaType(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		wantStatus  int // 0 when the body is accepted
	}{
		{name: "application/json", contentType: "application/json"},
		{name: "with parameters and in upper case", contentType: "Application/JSON; charset=utf-8"},
		{name: "+json suffix", contentType: "application/merge-patch+json"},
		{name: "no content type", contentType: "", wantStatus: 415},
		{name: "text/plain", contentType: "text/plain", wantStatus: 415},
		{name: "form", contentType: "application/x-www-form-urlencoded", wantStatus: 415},
		{name: "not a media type", contentType: ";;", wantStatus: 415},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/people", strings.NewReader(`{"name":"Anna"}`))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			var got person
			err := httpapi.DecodeJSON(r, &got)
			if tc.wantStatus == 0 {
				if err != nil {
					t.Fatalf("DecodeJSON() = %v, want nil", err)
				}
				return
			}
			if got := httpapi.StatusOf(err); got != tc.wantStatus {
				t.Fatalf("DecodeJSON() = %v (status %d), want status %d", err, got, tc.wantStatus)
			}
			kind, fields := fieldsOf(t, err)
			if kind != errs.UnsupportedMediaType {
				t.Errorf("kind = %v, want %v", kind, errs.UnsupportedMediaType)
			}
			if diff := cmp.Diff([]string{"Content-Type"}, fields); diff != "" {
				t.Errorf("invalid fields of %q (-want +got):\n%s", err, diff)
			}
		})
	}
}

// TestParseForm: a form field given twice is refused naming it (url.Values.Get would take the
// first), as are malformed encoding and text that is not UTF-8.
func TestParseForm(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		want      map[string]string
		wantField string
	}{
		{name: "fields", body: "grant_type=password&username=a%40b.c&password=x+y", want: map[string]string{"grant_type": "password", "username": "a@b.c", "password": "x y"}},
		{name: "empty body", body: "", want: map[string]string{}},
		{name: "empty pairs are skipped", body: "a=1&&b=", want: map[string]string{"a": "1", "b": ""}},
		{name: "repeated field", body: "username=a&password=x&username=b", wantField: "username"},
		{name: "repeated field with the same value", body: "username=a&username=a", wantField: "username"},
		{name: "repeated through an escape", body: "username=a&user%6eame=b", wantField: "username"},
		{name: "repeated empty field", body: "scope=&scope=", wantField: "scope"},
		{name: "malformed escape", body: "a=%zz", wantField: "body"},
		{name: "semicolon separator", body: "a=1;b=2", wantField: "body"},
		{name: "invalid UTF-8 value", body: "username=%ff", wantField: "username"},
		{name: "NUL in a value", body: "username=a%00b", wantField: "username"},
		{name: "invalid UTF-8 name", body: "%ff=1", wantField: "body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := httpapi.ParseForm([]byte(tc.body))
			if tc.wantField != "" {
				if err == nil {
					t.Fatalf("ParseForm(%q) = %v, want an error naming %q", tc.body, got, tc.wantField)
				}
				kind, fields := fieldsOf(t, err)
				if kind != errs.Invalid {
					t.Errorf("kind = %v, want %v", kind, errs.Invalid)
				}
				if diff := cmp.Diff([]string{tc.wantField}, fields); diff != "" {
					t.Errorf("invalid fields of %q (-want +got):\n%s", err, diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseForm(%q) = %v", tc.body, err)
			}
			flat := map[string]string{}
			for k, v := range got {
				if len(v) != 1 {
					t.Errorf("field %s has %d values", k, len(v))
				}
				flat[k] = v[0]
			}
			if diff := cmp.Diff(tc.want, flat); diff != "" {
				t.Errorf("ParseForm(%q) (-want +got):\n%s", tc.body, diff)
			}
		})
	}
}

// TestDecodeForm: the media type is checked (415 naming Content-Type), then the size.
func TestDecodeForm(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		wantStatus  int
		wantField   string
	}{
		{name: "form", contentType: "application/x-www-form-urlencoded; charset=utf-8", body: "a=1", wantStatus: 200},
		{name: "no content type", body: "a=1", wantStatus: 415, wantField: "Content-Type"},
		{name: "JSON", contentType: "application/json", body: `{"a":1}`, wantStatus: 415, wantField: "Content-Type"},
		{name: "over the limit", contentType: "application/x-www-form-urlencoded", body: "a=" + strings.Repeat("x", 100), wantStatus: 400, wantField: "body"},
		{name: "repeated", contentType: "application/x-www-form-urlencoded", body: "a=1&a=2", wantStatus: 400, wantField: "a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/oauth/token", strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			v, err := httpapi.DecodeForm(r, 64)
			if tc.wantStatus == 200 {
				if err != nil || v.Get("a") != "1" {
					t.Fatalf("DecodeForm() = %v, %v; want a=1", v, err)
				}
				return
			}
			if got := httpapi.StatusOf(err); got != tc.wantStatus {
				t.Fatalf("DecodeForm() = %v (status %d), want status %d", err, got, tc.wantStatus)
			}
			_, fields := fieldsOf(t, err)
			if diff := cmp.Diff([]string{tc.wantField}, fields); diff != "" {
				t.Errorf("invalid fields of %q (-want +got):\n%s", err, diff)
			}
		})
	}
}

// TestMuxPaths: a path with dot segments or empty segments, however escaped, is a 400 naming
// "path" where http.ServeMux would redirect to the cleaned path; others are routed as usual.
func TestMuxPaths(t *testing.T) {
	mux := httpapi.NewMux()
	ok := func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }
	mux.HandleFunc("GET /v1/citizens", ok)
	mux.HandleFunc("GET /v1/citizens/{id}", ok)
	mux.HandleFunc("GET /v1/citizens/{id}/audit", ok)
	mux.HandleFunc("GET /healthz", ok)
	tests := []struct {
		path string
		want int
	}{
		{"/v1/citizens", 200},
		{"/v1/citizens/abc", 200},
		{"/v1/citizens/abc/audit?limit=1", 200},
		{"/v1/citizens/.hidden", 200},
		{"/v1/citizens/..x", 200},
		{"/v1/citizens/a.b", 200},
		{"/healthz", 200},
		{"/v1/citizens/", 404},
		{"/v1/./citizens", 400},
		{"/v1/citizens/../citizens", 400},
		{"/v1/citizens/abc/../abc/audit", 400},
		{"//v1/citizens", 400},
		{"/v1//citizens", 400},
		{"/v1/citizens//abc", 400},
		{"/v1/%2e%2e/v1/citizens", 400},
		{"/v1/%2E/citizens", 400},
		{"/v1/citizens/abc%2F..%2Fdef", 400},
		{"/v1/citizens/.", 400},
		{"/v1/citizens/..", 400},
		{"/./healthz", 400},
		{"//healthz", 400},
		{"/healthz/.", 400},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h := httpapi.Chain(mux, httpapi.RequestIDs())
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if rec.Code != tc.want {
				t.Fatalf("GET %s = %d (Location %q), want %d", tc.path, rec.Code, rec.Header().Get("Location"), tc.want)
			}
			if tc.want != 400 {
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != httpapi.ProblemContentType {
				t.Errorf("content type %q, want %s", ct, httpapi.ProblemContentType)
			}
			var p httpapi.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || len(p.Errors) != 1 || p.Errors[0].Field != "path" {
				t.Errorf("problem %s, want one error naming path", rec.Body)
			}
		})
	}
}

// BenchmarkMuxPath: the path check costs a normal request next to nothing.
func BenchmarkMuxPath(b *testing.B) {
	mux := httpapi.NewMux()
	mux.HandleFunc("GET /v1/citizens/{id}/audit", func(w http.ResponseWriter, r *http.Request) {})
	r := httptest.NewRequest(http.MethodGet, "/v1/citizens/0190c0de-0000-7000-8000-000000000001/audit", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		mux.ServeHTTP(w, r)
	}
}
