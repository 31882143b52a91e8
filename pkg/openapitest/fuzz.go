package openapitest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"testing"

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
	})
}
