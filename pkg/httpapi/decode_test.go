package httpapi_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

type residence struct {
	IstatCode string `json:"istat_code"`
	Street    string `json:"street"`
}

type person struct {
	Name      string    `json:"name"`
	Age       int       `json:"age"`
	Residence residence `json:"residence"`
	Tags      []string  `json:"tags"`
}

// fieldsOf returns the kind and the invalid field names of a decoding error.
func fieldsOf(t *testing.T, err error) (errs.Kind, []string) {
	t.Helper()
	e, ok := err.(*errs.Error)
	if !ok {
		t.Fatalf("error %v (%T) is not an *errs.Error", err, err)
	}
	var names []string
	for _, f := range e.Fields {
		names = append(names, f.Field)
	}
	return e.Kind, names
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name        string
		body        io.Reader
		contentType string
		want        person
		wantField   string // "" when decoding succeeds
	}{
		{
			name:        "valid",
			body:        strings.NewReader(`{"name":"Anna","age":41,"residence":{"istat_code":"015146"},"tags":["a"]}`),
			contentType: "application/json",
			want:        person{Name: "Anna", Age: 41, Residence: residence{IstatCode: "015146"}, Tags: []string{"a"}},
		},
		{
			name:        "valid with charset and surrounding space",
			body:        strings.NewReader("  \n{\"name\":\"Anna\"}\n "),
			contentType: "application/json; charset=utf-8",
			want:        person{Name: "Anna"},
		},
		{
			name:        "+json suffix accepted",
			body:        strings.NewReader(`{"name":"Anna"}`),
			contentType: "application/merge-patch+json",
			want:        person{Name: "Anna"},
		},
		{name: "malformed JSON", body: strings.NewReader(`{"name": "Anna",}`), contentType: "application/json", wantField: "body"},
		{name: "truncated JSON", body: strings.NewReader(`{"name": "An`), contentType: "application/json", wantField: "body"},
		{name: "unknown field", body: strings.NewReader(`{"name":"Anna","nickname":"A"}`), contentType: "application/json", wantField: "nickname"},
		{name: "unknown nested field", body: strings.NewReader(`{"residence":{"zip":"20100"}}`), contentType: "application/json", wantField: "zip"},
		{name: "wrong type", body: strings.NewReader(`{"age":"forty"}`), contentType: "application/json", wantField: "age"},
		{name: "wrong type nested", body: strings.NewReader(`{"residence":{"istat_code":15146}}`), contentType: "application/json", wantField: "residence.istat_code"},
		{name: "integer out of range", body: strings.NewReader(`{"age":1e100}`), contentType: "application/json", wantField: "age"},
		{name: "array instead of object", body: strings.NewReader(`[1,2]`), contentType: "application/json", wantField: "body"},
		{name: "empty body", body: strings.NewReader(""), contentType: "application/json", wantField: "body"},
		{name: "blank body", body: strings.NewReader(" \n\t "), contentType: "application/json", wantField: "body"},
		{name: "no body at all", body: nil, contentType: "application/json", wantField: "body"},
		{name: "invalid UTF-8", body: strings.NewReader("{\"name\":\"Ann\xff\"}"), contentType: "application/json", wantField: "body"},
		{name: "trailing object", body: strings.NewReader(`{"name":"Anna"}{"name":"Bea"}`), contentType: "application/json", wantField: "body"},
		{name: "trailing garbage", body: strings.NewReader(`{"name":"Anna"} x`), contentType: "application/json", wantField: "body"},
		{name: "trailing brace", body: strings.NewReader(`{"name":"Anna"}}`), contentType: "application/json", wantField: "body"},
		{name: "10 MB body", body: bytes.NewReader(bigJSON(10 << 20)), contentType: "application/json", wantField: "body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/people", tc.body)
			if tc.body == nil {
				r.Body = nil // as a client-side request built with http.NewRequest(..., nil) has
			}
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			var got person
			err := httpapi.DecodeJSON(r, &got)
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("DecodeJSON() = %v, want nil", err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("decoded value (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil {
				t.Fatalf("DecodeJSON() = nil, decoded %+v; want an error naming %q", got, tc.wantField)
			}
			kind, fields := fieldsOf(t, err)
			if kind != errs.Invalid {
				t.Errorf("kind = %v, want %v", kind, errs.Invalid)
			}
			if diff := cmp.Diff([]string{tc.wantField}, fields); diff != "" {
				t.Errorf("invalid fields of %q (-want +got):\n%s", err, diff)
			}
			if got := httpapi.StatusOf(err); got != http.StatusBadRequest {
				t.Errorf("StatusOf() = %d, want 400", got)
			}
		})
	}
}

func TestDecodeJSONLimit(t *testing.T) {
	body := `{"name":"Anna"}`
	tests := []struct {
		name  string
		limit int64
		ok    bool
	}{
		{name: "exactly the limit", limit: int64(len(body)), ok: true},
		{name: "one byte short", limit: int64(len(body)) - 1, ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			var p person
			err := httpapi.DecodeJSONLimit(r, &p, tc.limit)
			if got := err == nil; got != tc.ok {
				t.Fatalf("DecodeJSONLimit(limit %d) = %v, want ok %v", tc.limit, err, tc.ok)
			}
			if !tc.ok {
				_, fields := fieldsOf(t, err)
				if diff := cmp.Diff([]string{"body"}, fields); diff != "" {
					t.Errorf("invalid fields (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// bigJSON returns a syntactically valid JSON object of about n bytes.
func bigJSON(n int) []byte {
	b := make([]byte, 0, n+32)
	b = append(b, `{"name":"`...)
	b = append(b, bytes.Repeat([]byte("a"), n)...)
	b = append(b, `"}`...)
	return b
}
