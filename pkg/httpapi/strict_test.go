package httpapi_test

import (
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
