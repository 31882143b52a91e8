package httpapi

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// refuseNUL refuses a JSON body with a NUL character (\u0000) in any string, member names
// included: PostgreSQL cannot store NUL in text, so no field of the suite may hold one, and the
// check here covers every field, including those a service forgets to validate. It names the
// member ("body" for a string outside any object).
func refuseNUL(body []byte) error {
	if !bytes.Contains(body, []byte(`\u0000`)) {
		return nil // fast path: JSON can carry a NUL only escaped
	}
	type frame struct {
		object, wantKey bool
		key             string
	}
	var stack []frame
	name := func() string {
		var parts []string
		for _, f := range stack {
			if f.object && f.key != "" {
				parts = append(parts, f.key)
			}
		}
		if len(parts) == 0 {
			return "body"
		}
		return strings.Join(parts, ".")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or a syntax error the strict decoder reports
		}
		top := len(stack) - 1
		isKey := top >= 0 && stack[top].object && stack[top].wantKey
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top >= 0 && stack[top].object {
					stack[top].wantKey = true
				}
				stack = append(stack, frame{object: v == '{', wantKey: v == '{'})
			default:
				stack = stack[:top]
			}
			continue
		case string:
			if isKey {
				stack[top].key, stack[top].wantKey = v, false
				if strings.IndexByte(v, 0) >= 0 {
					return errs.InvalidField(name(), "must not contain NUL characters")
				}
				continue
			}
			if strings.IndexByte(v, 0) >= 0 {
				return errs.InvalidField(name(), "must not contain NUL characters")
			}
		}
		if top >= 0 && stack[top].object {
			stack[top].wantKey = true
		}
	}
}

// checkValues records a field error for each parameter of v (a query or a form body) that is
// not single-line text: invalid UTF-8 or a control character (valid.LineOK). No parameter of the
// suite holds one; PostgreSQL refuses NUL in text, and the others are no one's input.
func checkValues(f *errs.Fields, v url.Values, what string) {
	for name, values := range v {
		if !valid.LineOK(name) {
			f.Add(what, "holds a parameter name that is not single-line UTF-8 text")
			continue
		}
		for _, x := range values {
			if !valid.LineOK(x) {
				f.Add(name, "must be single-line UTF-8 text without control characters")
				break
			}
		}
	}
}

// CheckForm refuses form values that are not single-line text, as the query parameters of
// every route are (Mux): a form-encoded body is the one body the strict JSON decoder does not
// read.
func CheckForm(v url.Values) error {
	var f errs.Fields
	checkValues(&f, v, "body")
	return f.Err()
}
