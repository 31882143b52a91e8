package httpapi

import (
	"errors"
	"strings"
	"testing"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/openapitest"
)

type fuzzTarget struct {
	Name   string   `json:"name"`
	Count  int32    `json:"count"`
	Amount float64  `json:"amount"`
	Active *bool    `json:"active"`
	Tags   []string `json:"tags"`
	Nested struct {
		Code string `json:"code"`
	} `json:"nested"`
	Labels map[string]string `json:"labels"`
}

// FuzzUnmarshal: whatever the body, strict decoding either succeeds or answers an Invalid error
// that names at least one field; it never panics. A body it accepts means one thing: no
// member given twice, no string that decoding turns into U+FFFD (openapitest.JSONAmbiguity,
// written apart from the decoder).
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{`{"name":"a","count":1}`, `{"count":"x"}`, `{"bogus":1}`, `[]`, `{"nested":{"code":1}}`,
		"{\"name\":\"\xff\"}", `{"count":99999999999}`, `{} {}`, ``, `{"tags":[1]}`, `null`,
		`{"name":"a","name":"b"}`, `{"nested":{"code":"a","code":"b"}}`, `{"labels":{"x":"1","x":"2"}}`,
		`{"name":"a","NAME":"b"}`, `{"name":"a","\u006eame":"b"}`, `{"labels":{"a":"1","b":"2","A":"3"}}`,
		`{"name":"\ud800"}`, `{"name":"\udc00x"}`, `{"name":"\ud800\u0041"}`, `{"tags":["ok","\udbff"]}`,
		`{"labels":{"\ud800":"x"}}`, `{"name":"\ud83d\ude00"}`, `{"name":"\ufffd"}`, `{"name":"\\ud800"}`,
		// Values the store refuses: NUL in a string, a member name, an array, a nested object.
		`{"name":"a\u0000b"}`, `{"na\u0000me":1}`, `{"tags":["\u0000"]}`, `{"nested":{"code":"\u0000"}}`,
		`{"labels":{"\u0000":"x"}}`, `{"name":"\\u0000"}`, `{"name":"\u0001\u001f\u007f\u0085"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v fuzzTarget
		err := Unmarshal(body, &v)
		if err == nil {
			if why := openapitest.JSONAmbiguity(body); why != "" {
				t.Fatalf("Unmarshal(%q) accepted it, but %s", body, why)
			}
			// What is decoded holds no NUL: PostgreSQL could not store it.
			all := append([]string{v.Name, v.Nested.Code}, v.Tags...)
			for k, x := range v.Labels {
				all = append(all, k, x)
			}
			for _, s := range all {
				if strings.IndexByte(s, 0) >= 0 {
					t.Fatalf("Unmarshal(%q) decoded a NUL: %q", body, s)
				}
			}
			return
		}
		var e *errs.Error
		if !errors.As(err, &e) || e.Kind != errs.Invalid || len(e.Fields) == 0 || e.Fields[0].Field == "" {
			t.Fatalf("Unmarshal(%q) = %v; want an Invalid error naming a field", body, err)
		}
	})
}
