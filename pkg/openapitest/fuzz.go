package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-kit/kit/endpoint"
)

// StubEndpoints sets every go-kit endpoint field of the struct p points to (a service's
// Endpoints) to one that answers nil: the routes and decoders run, the service does not.
func StubEndpoints(p any) {
	stub := reflect.ValueOf(endpoint.Endpoint(func(context.Context, any) (any, error) { return nil, nil }))
	v := reflect.ValueOf(p).Elem()
	for i := range v.NumField() {
		if v.Field(i).Type() == stub.Type() {
			v.Field(i).Set(stub)
		}
	}
}

// FuzzID fills every path parameter of the requests FuzzDecoders sends.
const FuzzID = "0190c0de-0000-7000-8000-000000000001"

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// bodyTarget is an operation that takes a request body, with one of its media types.
type bodyTarget struct {
	op    Operation
	path  string
	media string
}

// FuzzDecoders fuzzes a service's request decoding: h is the service's real routes with its
// endpoints stubbed; the fuzz input is (operation index, body), sent to every (operation,
// request media type) of the contract that takes a body, with every path parameter FuzzID,
// query added to the URL and headers set. Whatever the body, h must not panic and must not
// answer a 5xx: every decoding error is a client error kind of pkg/errs (Internal is the only
// kind that maps to 500). seeds are added for every operation.
func FuzzDecoders(f *testing.F, doc []byte, h http.Handler, query string, headers http.Header, seeds ...string) {
	c := Load(f, doc)
	var targets []bodyTarget
	for _, op := range c.Operations() {
		for _, media := range c.RequestMediaTypes(op) {
			targets = append(targets, bodyTarget{op: op, path: pathParam.ReplaceAllString(op.Path, FuzzID), media: media})
		}
	}
	if len(targets) == 0 {
		f.Fatal("openapitest: no operation of the contract takes a request body")
	}
	for i := range targets {
		for _, s := range seeds {
			f.Add(uint(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, op uint, body []byte) {
		tg := targets[op%uint(len(targets))]
		url := tg.path
		if query != "" {
			url += "?" + query
		}
		req := httptest.NewRequest(tg.op.Method, url, bytes.NewReader(body))
		for k, v := range headers {
			req.Header[k] = v
		}
		req.Header.Set("Content-Type", tg.media)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			b, _ := io.ReadAll(rec.Body)
			t.Fatalf("%s (%s) with body %q = %d: %s", tg.op, tg.media, body, rec.Code, b)
		}
		if rec.Code >= 300 {
			return
		}
		// An accepted body means one thing: no member or field given twice, no string that
		// decoding changes.
		var why string
		switch {
		case isJSON(tg.media):
			why = JSONAmbiguity(body)
		case tg.media == "application/x-www-form-urlencoded":
			why = FormAmbiguity(body)
		}
		if why != "" {
			t.Fatalf("%s (%s) accepted body %q = %d, but %s", tg.op, tg.media, body, rec.Code, why)
		}
	})
}

// JSONAmbiguity says why a JSON body does not mean one thing ("" when it does, or when it is
// not JSON): a member given twice in an object (names compared without regard to case, as
// encoding/json matches struct fields), or a string that decoding changes (an unpaired
// surrogate escape or invalid UTF-8 that becomes U+FFFD). It is written apart from
// pkg/httpapi's strict decoder, as the fuzz targets' oracle.
func JSONAmbiguity(body []byte) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	out, _ := json.Marshal(v)
	if (bytes.ContainsRune(out, utf8.RuneError) || bytes.Contains(out, []byte(`\ufffd`))) &&
		!bytes.ContainsRune(body, utf8.RuneError) && !bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`)) {
		return fmt.Sprintf("decoding turns a string into U+FFFD: %s", out)
	}
	type object struct {
		names  []string
		isName bool // the next token is a member name
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var stack []*object
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		var top *object
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.isName {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			name, _ := tok.(string)
			for _, prev := range top.names {
				if strings.EqualFold(prev, name) {
					return fmt.Sprintf("member %q is given twice (as %q)", name, prev)
				}
			}
			top.names = append(top.names, name)
			top.isName = false
			continue
		}
		if top != nil {
			top.isName = true // after this value
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, &object{isName: true})
			case '[':
				stack = append(stack, nil)
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
		}
	}
}

// FormAmbiguity says why a form-encoded body does not mean one thing ("" when it does): a
// field given twice.
func FormAmbiguity(body []byte) string {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return ""
	}
	for k, x := range v {
		if len(x) > 1 {
			return fmt.Sprintf("field %q is given %d times", k, len(x))
		}
	}
	return ""
}
