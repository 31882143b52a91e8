package httpapi

import (
	"errors"
	"testing"

	"github.com/csi-lombardia/csi/pkg/errs"
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
// that names at least one field; it never panics.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{`{"name":"a","count":1}`, `{"count":"x"}`, `{"bogus":1}`, `[]`, `{"nested":{"code":1}}`,
		"{\"name\":\"\xff\"}", `{"count":99999999999}`, `{} {}`, ``, `{"tags":[1]}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v fuzzTarget
		err := Unmarshal(body, &v)
		if err == nil {
			return
		}
		var e *errs.Error
		if !errors.As(err, &e) || e.Kind != errs.Invalid || len(e.Fields) == 0 || e.Fields[0].Field == "" {
			t.Fatalf("Unmarshal(%q) = %v; want an Invalid error naming a field", body, err)
		}
	})
}
