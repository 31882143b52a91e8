// Package openapitest checks real HTTP exchanges against a service's OpenAPI 3.1 contract in
// tests: the operation must be documented, the status documented for it, and the body must match
// the documented media type and schema (problem+json bodies also against the shared Problem
// schema). Each service's transport tests load the document the service embeds and route their
// client through Contract.Transport, so every response they see is checked.
//
// Validation is done by github.com/pb33f/libopenapi-validator with format assertions on (uuid,
// date, date-time are checked, not only types).
package openapitest

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
	"github.com/pb33f/libopenapi-validator/paths"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	lowv3 "github.com/pb33f/libopenapi/datamodel/low/v3"
	"github.com/pb33f/libopenapi/orderedmap"
)

// ProblemContentType is the media type of RFC 9457 problem details.
const ProblemContentType = "application/problem+json"

// ProblemSchema is the name under components/schemas of the shared problem schema that every
// problem+json body is checked against, whatever the operation documents.
const ProblemSchema = "Problem"

// maxBodyShown bounds the part of a body quoted in a failure message.
const maxBodyShown = 600

// Operation is one operation of the document.
type Operation struct {
	Method      string // upper case: "GET"
	Path        string // the path template: "/v1/operators/{id}"
	OperationID string
}

// String returns "GET /v1/operators/{id} (getOperator)".
func (o Operation) String() string {
	return o.Method + " " + o.Path + " (" + o.OperationID + ")"
}

// Contract is a loaded OpenAPI document that checks requests and responses. It is safe for
// concurrent use by parallel tests (checks are serialized).
type Contract struct {
	model     *v3.Document
	version   float32
	validator validator.Validator
	opts      *config.ValidationOptions
	problem   *base.Schema // nil when the document has no Problem schema
	schemas   schema_validation.SchemaValidator
	ops       []Operation
}

// mu serializes document building and validation: libopenapi and the validator keep
// package-level caches (BuildV3Model clears one while it builds), and tests are not where speed
// matters.
var mu sync.Mutex

// Load parses and validates an OpenAPI 3.1 document; it fails the test if the document itself
// is invalid: not 3.1, not valid against the OpenAPI 3.1 schema, with unresolved references or
// with an operationId used twice.
func Load(tb testing.TB, doc []byte) *Contract {
	tb.Helper()
	c, problems := load(doc)
	if len(problems) > 0 {
		tb.Fatalf("openapitest: the OpenAPI document is invalid:\n  - %s", strings.Join(problems, "\n  - "))
	}
	return c
}

func load(doc []byte) (*Contract, []string) {
	mu.Lock()
	defer mu.Unlock()
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, []string{"the document is empty"}
	}
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		return nil, []string{fmt.Sprintf("parse: %v", err)}
	}
	if v := d.GetVersion(); !strings.HasPrefix(v, "3.1") {
		return nil, []string{fmt.Sprintf("openapi version is %q, want 3.1.x", v)}
	}
	m, err := d.BuildV3Model()
	if err != nil {
		return nil, []string{fmt.Sprintf("build model: %v", err)}
	}
	lookup := newVerbLookup(&m.Model)
	v, errs := validator.NewValidator(d, config.WithFormatAssertions(), config.WithURLEncodedBodyValidation(), config.WithPathTree(lookup))
	if len(errs) > 0 {
		var out []string
		for _, e := range errs {
			out = append(out, fmt.Sprintf("validator: %v", e))
		}
		return nil, out
	}
	var problems []string
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			problems = append(problems, describe(e)...)
		}
	}
	c := &Contract{
		model:     &m.Model,
		version:   helpers.VersionToFloat(m.Model.Version),
		validator: v,
		// Options for the operation lookup of the checks done here (the no-body and Problem
		// checks), with the same path lookup as the validator.
		opts:    config.NewValidationOptions(config.WithFormatAssertions(), config.WithPathTree(lookup)),
		schemas: schema_validation.NewSchemaValidatorWithLogger(slog.New(slog.DiscardHandler), config.WithFormatAssertions()),
	}
	c.ops, problems = operations(&m.Model, problems)
	if m.Model.Components != nil && m.Model.Components.Schemas != nil {
		if sp, ok := m.Model.Components.Schemas.Get(ProblemSchema); ok && sp != nil {
			c.problem = sp.Schema()
			if c.problem == nil {
				problems = append(problems, fmt.Sprintf("components/schemas/%s cannot be built: %v", ProblemSchema, sp.GetBuildError()))
			}
		}
	}
	return c, problems
}

// operations lists the document's operations in path order, and reports operationIds used
// twice.
func operations(m *v3.Document, problems []string) ([]Operation, []string) {
	var ops []Operation
	seen := map[string]Operation{}
	if m.Paths == nil || m.Paths.PathItems == nil {
		return nil, problems
	}
	for path, item := range m.Paths.PathItems.FromOldest() {
		if item == nil {
			continue
		}
		for method, op := range item.GetOperations().FromOldest() {
			o := Operation{Method: strings.ToUpper(method), Path: path, OperationID: op.OperationId}
			if o.OperationID != "" {
				if prev, dup := seen[o.OperationID]; dup {
					problems = append(problems, fmt.Sprintf("operationId %q is used by %s %s and %s %s",
						o.OperationID, prev.Method, prev.Path, o.Method, o.Path))
				}
				seen[o.OperationID] = o
			}
			ops = append(ops, o)
		}
	}
	return ops, problems
}

// Operations lists every operation of the document (method, path template, operationId), in
// document order.
func (c *Contract) Operations() []Operation { return slices.Clone(c.ops) }

// RequestMediaTypes lists the media types of op's request body, in document order; none when
// it takes no body.
func (c *Contract) RequestMediaTypes(op Operation) []string {
	o, _ := c.opModel(op)
	if o == nil || o.RequestBody == nil || o.RequestBody.Content == nil {
		return nil
	}
	var out []string
	for media := range o.RequestBody.Content.FromOldest() {
		out = append(out, media)
	}
	return out
}

// Check validates a real response against the contract: the operation (method and path) must
// be documented, the status documented for it (or covered by a range or default response), the
// content type one of the documented ones and the body valid against its schema, required
// response headers present and every documented header valid; a status documented without
// content must come without a body; a problem+json body must also be valid against the shared
// Problem schema. Only the response side is checked, so a test that sends a deliberately bad
// request can still check that the answer is documented. body is the full response body (the
// response's own Body is not read). Check reports every violation with t.Errorf, so it may be
// called from any goroutine.
func (c *Contract) Check(tb testing.TB, req *http.Request, resp *http.Response, body []byte) {
	tb.Helper()
	if problems := c.responseViolations(req, resp, body); len(problems) > 0 {
		tb.Errorf("openapitest: %s %s -> %d does not match the contract:\n  - %s%s",
			req.Method, req.URL.Path, resp.StatusCode, strings.Join(problems, "\n  - "), quote(resp, body))
	}
}

// CheckRequest validates a request against the contract: path, query and header parameters,
// the security requirement and the body. Use it to prove that the valid requests a test starts
// from are valid per the contract. The request body is read and restored.
func (c *Contract) CheckRequest(tb testing.TB, req *http.Request) {
	tb.Helper()
	if problems := c.requestViolations(req); len(problems) > 0 {
		tb.Errorf("openapitest: request %s %s does not match the contract:\n  - %s",
			req.Method, req.URL.Path, strings.Join(problems, "\n  - "))
	}
}

// Transport wraps next (http.DefaultTransport when nil) so that every response a test receives
// through it is checked with Check. The response body is read in full and restored, so callers
// read it as usual.
func (c *Contract) Transport(tb testing.TB, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{c: c, tb: tb, next: next}
}

type transport struct {
	c    *Contract
	tb   testing.TB
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("openapitest: read response body: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	t.c.Check(t.tb, req, resp, body)
	return resp, nil
}

func (c *Contract) responseViolations(req *http.Request, resp *http.Response, body []byte) []string {
	mu.Lock()
	defer mu.Unlock()
	// A copy with the body given, so the caller's response is left as it is.
	r := *resp
	r.Body = io.NopCloser(bytes.NewReader(body))
	if r.Header == nil {
		r.Header = http.Header{}
	}
	item, errs, _ := paths.FindPath(req, c.model, c.opts)
	if item == nil || len(errs) > 0 {
		return describeAll(errs, fmt.Sprintf("%s %s is not an operation of the contract", req.Method, req.URL.Path))
	}
	op := helpers.ExtractOperation(req, item)
	if op == nil {
		return []string{fmt.Sprintf("%s %s is not an operation of the contract", req.Method, req.URL.Path)}
	}
	var problems []string
	bodyFailed := false
	if _, verrs := c.validator.ValidateHttpResponse(req, &r); len(verrs) > 0 {
		problems = describeAll(verrs, "")
		for _, e := range verrs {
			bodyFailed = bodyFailed || e.ValidationType == helpers.ResponseBodyValidation && !isHeader(e)
		}
	}
	if documented := documentedResponse(op, resp.StatusCode); documented != nil &&
		orderedmap.Len(documented.Content) == 0 && len(bytes.TrimSpace(body)) > 0 {
		problems = append(problems, fmt.Sprintf("status %d is documented without a body, but the response has %d bytes", resp.StatusCode, len(body)))
	}
	// A problem body is also checked against the shared Problem schema, in case the operation
	// documents a looser one; when the documented schema already failed, this would only repeat it.
	if isProblem(resp.Header.Get("Content-Type")) && c.problem != nil && !bodyFailed {
		if ok, verrs := c.schemas.ValidateSchemaBytesWithVersion(c.problem, body, c.version); !ok {
			for _, e := range verrs {
				problems = append(problems, describeAs(e, "problem body (components/schemas/"+ProblemSchema+")")...)
			}
		}
	}
	return problems
}

func (c *Contract) requestViolations(req *http.Request) []string {
	mu.Lock()
	defer mu.Unlock()
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return []string{fmt.Sprintf("read request body: %v", err)}
		}
		body = b
		req.Body = io.NopCloser(bytes.NewReader(body))
		defer func() { req.Body = io.NopCloser(bytes.NewReader(body)) }()
	}
	if _, verrs := c.validator.ValidateHttpRequestSync(req); len(verrs) > 0 {
		return describeAll(verrs, "")
	}
	return nil
}

// documentedResponse returns the response documented for a status: the exact code, its range
// ("4XX") or the default.
func documentedResponse(op *v3.Operation, status int) *v3.Response {
	if op.Responses == nil {
		return nil
	}
	if op.Responses.Codes != nil {
		if r := op.Responses.Codes.GetOrZero(fmt.Sprint(status)); r != nil {
			return r
		}
		if r := op.Responses.Codes.GetOrZero(fmt.Sprintf("%dXX", status/100)); r != nil {
			return r
		}
	}
	return op.Responses.Default
}

func isProblem(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mt), ProblemContentType)
}

func describeAll(errs []*verrors.ValidationError, fallback string) []string {
	var out []string
	for _, e := range errs {
		out = append(out, describe(e)...)
	}
	if len(out) == 0 && fallback != "" {
		out = append(out, fallback)
	}
	return out
}

// describe turns a validation error into one line per schema failure, named by what failed
// ("response body", "response header", "query parameter limit").
func describe(e *verrors.ValidationError) []string { return describeAs(e, label(e)) }

// describeAs is describe with the name of what failed given.
func describeAs(e *verrors.ValidationError, what string) []string {
	if e == nil {
		return nil
	}
	if len(e.SchemaValidationErrors) == 0 {
		line := e.Message
		if e.Reason != "" && e.Reason != e.Message {
			line += ": " + e.Reason
		}
		if e.SpecPath != "" && !strings.Contains(line, e.SpecPath) {
			line += " [" + e.SpecPath + "]"
		}
		return []string{line}
	}
	out := make([]string, 0, len(e.SchemaValidationErrors))
	for _, f := range e.SchemaValidationErrors {
		where := f.FieldPath
		if where == "" {
			where = "/" + strings.Join(f.InstancePath, "/")
		}
		line := fmt.Sprintf("%s: %s at %s", what, f.Reason, where)
		if f.KeywordLocation != "" {
			line += " (schema " + f.KeywordLocation + ")"
		}
		if e.ValidationType == helpers.DocumentValidation && f.Line > 0 {
			line += fmt.Sprintf(" (line %d)", f.Line)
		}
		out = append(out, line)
	}
	return out
}

// isHeader reports whether e is about a header (the validator says "header" for a missing one
// and "headers" for an invalid one).
func isHeader(e *verrors.ValidationError) bool {
	return e.ValidationSubType == helpers.ParameterValidationHeader || e.ValidationSubType == lowv3.HeadersLabel
}

func label(e *verrors.ValidationError) string {
	switch {
	case e.ValidationType == helpers.ResponseBodyValidation && isHeader(e):
		return strings.TrimSpace("response header " + e.ParameterName)
	case e.ValidationType == helpers.ResponseBodyValidation:
		return "response body"
	case e.ValidationType == helpers.RequestBodyValidation:
		return "request body"
	case e.ValidationType == helpers.ParameterValidation:
		return strings.TrimSpace(e.ValidationSubType + " parameter " + e.ParameterName)
	case e.ValidationType == helpers.DocumentValidation:
		return "document"
	}
	return strings.TrimSpace(e.ValidationType + " " + e.ValidationSubType)
}

// quote shows the response's content type and the start of its body.
func quote(resp *http.Response, body []byte) string {
	shown := string(body)
	if len(shown) > maxBodyShown {
		shown = shown[:maxBodyShown] + "…"
	}
	return fmt.Sprintf("\n  content type: %q\n  body: %s", resp.Header.Get("Content-Type"), strings.TrimSpace(shown))
}

// Client returns an HTTP client for the service under test whose every answer is checked
// against the contract (through Transport). It does not follow redirects, so a test sees a
// documented 301 as it is.
func (c *Contract) Client(tb testing.TB, base *http.Client) *http.Client {
	next := base.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	return &http.Client{Transport: c.Transport(tb, next), Timeout: base.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
