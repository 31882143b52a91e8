package openapitest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// SweepConfig says how the bad-input sweep reaches a running service and acts on it.
type SweepConfig struct {
	// BaseURL is the service under test ("http://127.0.0.1:4321").
	BaseURL string
	// Client sends the requests (an httptest server's client); nil for http.DefaultClient.
	// Every answer is also checked against the contract (Contract.Client).
	Client *http.Client
	// Token returns a valid access token of a caller allowed to call op, so that bad input
	// reaches the decoders and the validation rather than stopping at authorization.
	Token func(op Operation) string
	// OtherTenant returns a valid token of a caller of the same role in another tenant; the
	// sweep calls every operation with path parameters (PathParams) with it and wants a 4xx.
	// Nil skips these cases.
	OtherTenant func(op Operation) string
	// BadTokens returns tokens every secured operation must refuse with 401, by name ("expired",
	// "signed with another key"). It is called for each operation just before its requests are
	// sent, so that a token minted a second past a clock edge (a nbf just beyond the leeway) is
	// still past it when it arrives. The sweep adds its own: none, garbage, and the valid token
	// with alg none, a tampered payload or a cut signature. Nil adds none.
	BadTokens func() map[string]string
	// PathParams returns real values of op's path parameters (ids of fixtures), by name, so
	// that bad query parameters, headers and bodies meet real resources; a parameter left out
	// gets a random UUID (format uuid) or "x".
	PathParams func(op Operation) map[string]string
	// Rows returns the number of rows of every table of the service's database
	// (pgtest.RowCounts); the sweep fails when an operation's bad requests changed any.
	Rows func(tb testing.TB) map[string]int64
	// Skip names operations (by operationId) that are not swept, with the reason.
	Skip map[string]string
	// ListCriteria returns, for a list operation, query parameters (or body properties of a
	// search) that find at least two fixtures, so that the list called with limit=1 gives a real
	// next_cursor; the sweep sends it to the other lists and to the same list with other
	// criteria (sweep_values.go). Nil, or nil for op, uses the generated request.
	ListCriteria func(op Operation) map[string]any
}

// Injections are the hostile strings the sweep puts in path segments, query parameters,
// headers and body fields.
var Injections = []string{
	"'; DROP TABLE citizens; --",
	"\" OR 1=1 --",
	"<script>alert(1)</script>",
	"../../../../etc/passwd",
	"a\x00b",
	"${jndi:ldap://x}",
	"%s%s%s%n",
}

// badIDs are path-parameter values that are not ids, sent escaped as one segment.
var badIDs = []string{"not-a-uuid", strings.Repeat("9", 400), "../../etc/passwd", "..%2F..%2F", "\x00", "'; DROP TABLE x; --",
	"<script>", "00000000-0000-0000-0000-00000000000g", "\xff\xfe"}

// oversize is the size of an oversize body: over the suite's 1 MiB limit of a JSON body.
const oversize = 1<<20 + 1024

// longString is the length of an oversize string field or parameter.
const longString = 64 << 10

// sweepCase is one request of the sweep.
type sweepCase struct {
	name        string
	path        string // escaped, with the query
	header      http.Header
	body        []byte
	contentType string
	// auth is true for the token cases: the answer must be 401.
	auth bool
	// tenant is true for another tenant's token: any documented 4xx.
	tenant bool
	// forced cases are bad by the suite's rules though the contract cannot say so (invalid
	// UTF-8, NUL bytes, bodies over the limit); the others are sent only if the contract
	// refuses them.
	forced bool
	// want is the one status a case must get (0: any documented 4xx); field a field its problem
	// must name; checkAs the path of the operation its answer is checked against, for a path
	// that is not the contract's (syntax cases, sweep_syntax.go).
	want    int
	field   string
	checkAs string
}

// Sweep sends bad input to every operation of the contract and checks that each answer is a
// documented 4xx RFC 9457 problem, never a 5xx, and that nothing was written. For every
// operation, with a valid token of an allowed caller: malformed JSON, a body of another JSON
// type, a wrong type for each property, each required property missing, an unknown property,
// a body over 1 MiB, oversize strings, invalid UTF-8, negative and overflowing numbers,
// injection strings, path parameters that are not ids, bad query parameters and headers;
// control characters, out-of-range and implausible dates and timestamps in each property and
// query parameter, and cursors of another list or of other criteria (sweep_values.go);
// and, for secured operations, no token, bad tokens and another tenant's token; and the syntax
// cases of sweep_syntax.go, each wanting one status and a named field (a JSON member or form
// field given twice, unpaired surrogate escapes, a body without or with another Content-Type,
// paths with dot or empty segments). A request
// the contract itself accepts is not bad input and is not sent (unless forced by the suite's
// own rules: invalid UTF-8, NUL bytes, oversize bodies).
func (c *Contract) Sweep(t *testing.T, cfg SweepConfig) {
	t.Helper()
	base := cfg.Client
	if base == nil {
		base = http.DefaultClient
	}
	client := c.Client(t, base)
	if cfg.Token == nil {
		t.Fatal("openapitest: SweepConfig.Token is required")
	}
	for _, op := range c.ops {
		name := op.OperationID
		if name == "" {
			name = op.Method + " " + op.Path
		}
		if reason, ok := cfg.Skip[op.OperationID]; ok {
			t.Logf("sweep: %s skipped: %s", op, reason)
			continue
		}
		t.Run(name, func(t *testing.T) {
			cases := c.sweepCases(t, op, cfg) // first: it calls the lists for real cursors
			before := rows(t, cfg)
			sent, dropped := 0, 0
			failures := 0
			for _, sc := range cases {
				if !sc.forced && !sc.auth && !sc.tenant && c.acceptsRequest(c.request(t, op, cfg, sc)) {
					dropped++
					continue
				}
				sent++
				if msg := c.send(t, client, op, cfg, sc); msg != "" {
					failures++
					if failures <= 25 {
						t.Errorf("%s: %s", sc.name, msg)
					}
				}
			}
			if failures > 25 {
				t.Errorf("... and %d more failures", failures-25)
			}
			if after := rows(t, cfg); !maps.Equal(before, after) {
				t.Errorf("the bad requests wrote to the database: %s", rowDiff(before, after))
			}
			t.Logf("sweep: %s: %d bad requests sent, %d left out (the contract accepts them)", op, sent, dropped)
		})
	}
}

func rows(t *testing.T, cfg SweepConfig) map[string]int64 {
	if cfg.Rows == nil {
		return nil
	}
	return cfg.Rows(t)
}

func rowDiff(before, after map[string]int64) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(after)) {
		if before[k] != after[k] {
			out = append(out, fmt.Sprintf("%s: %d -> %d rows", k, before[k], after[k]))
		}
	}
	return strings.Join(out, ", ")
}

// request builds the http.Request of a case.
func (c *Contract) request(t *testing.T, op Operation, cfg SweepConfig, sc sweepCase) *http.Request {
	var body io.Reader = http.NoBody
	if sc.body != nil {
		body = bytes.NewReader(sc.body)
	}
	req, err := http.NewRequest(op.Method, strings.TrimRight(cfg.BaseURL, "/")+sc.path, body)
	if err != nil {
		t.Fatalf("openapitest: build %s %s: %v", op.Method, sc.path, err)
	}
	for k, v := range sc.header {
		req.Header[k] = v
	}
	if sc.contentType != "" {
		req.Header.Set("Content-Type", sc.contentType)
	}
	return req
}

// acceptsRequest reports whether the contract accepts the request.
func (c *Contract) acceptsRequest(req *http.Request) bool {
	return len(c.requestViolations(req)) == 0
}

// send sends a case and returns what is wrong with the answer ("" when it is right).
func (c *Contract) send(t *testing.T, client *http.Client, op Operation, cfg SweepConfig, sc sweepCase) string {
	req := c.request(t, op, cfg, sc)
	resp, err := c.do(t, client, sc, req)
	if err != nil {
		return fmt.Sprintf("%s %s: %v", op.Method, shorten(sc.path), err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	what := fmt.Sprintf("%s %s (%d-byte body) = %d", op.Method, shorten(sc.path), len(sc.body), resp.StatusCode)
	switch {
	case sc.auth && resp.StatusCode != http.StatusUnauthorized:
		return what + ", want 401: " + shorten(string(data))
	case resp.StatusCode < 400 || resp.StatusCode > 499:
		return what + ", want a 4xx: " + shorten(string(data))
	case !isProblem(resp.Header.Get("Content-Type")):
		return what + fmt.Sprintf(", content type %q, want %s", resp.Header.Get("Content-Type"), ProblemContentType)
	}
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
	}
	if err := json.Unmarshal(data, &p); err != nil || p.Type == "" || p.Title == "" || p.Status != resp.StatusCode {
		return what + ", the problem lacks type, title or status: " + shorten(string(data))
	}
	if msg := sc.expected(resp.StatusCode, data); msg != "" {
		return what + msg
	}
	return ""
}

func shorten(s string) string {
	if len(s) > 200 {
		return fmt.Sprintf("%s…(%d bytes)", s[:200], len(s))
	}
	return s
}

// opModel returns the documented operation and the parameters that apply to it (the path
// item's and its own, the operation's winning).
func (c *Contract) opModel(op Operation) (*v3.Operation, []*v3.Parameter) {
	item, ok := c.model.Paths.PathItems.Get(op.Path)
	if !ok || item == nil {
		return nil, nil
	}
	o, ok := item.GetOperations().Get(strings.ToLower(op.Method))
	if !ok || o == nil {
		return nil, nil
	}
	params := map[string]*v3.Parameter{}
	var order []string
	for _, list := range [][]*v3.Parameter{item.Parameters, o.Parameters} {
		for _, p := range list {
			k := p.In + ":" + p.Name
			if _, seen := params[k]; !seen {
				order = append(order, k)
			}
			params[k] = p
		}
	}
	out := make([]*v3.Parameter, 0, len(order))
	for _, k := range order {
		out = append(out, params[k])
	}
	return o, out
}

// secured reports whether op needs a token.
func (c *Contract) secured(o *v3.Operation) bool {
	sec := o.Security
	if sec == nil {
		sec = c.model.Security
	}
	if len(sec) == 0 {
		return false
	}
	for _, s := range sec {
		if s == nil || s.ContainsEmptyRequirement || s.Requirements == nil || s.Requirements.Len() == 0 {
			return false
		}
	}
	return true
}

// shape is the valid-looking request that the cases mutate.
type shape struct {
	path    map[string]string // raw values by name
	query   url.Values
	header  http.Header
	token   string
	media   string         // the request body's media type ("" without a body)
	schema  *base.Schema   // the body schema
	body    map[string]any // a generated body (JSON or form)
	rawBody []byte         // a generated body of another media type
}

func (s shape) url(op Operation, path map[string]string, query url.Values) string {
	p := op.Path
	for k, v := range path {
		p = strings.ReplaceAll(p, "{"+k+"}", url.PathEscape(v))
	}
	if len(query) > 0 {
		p += "?" + query.Encode()
	}
	return p
}

func (s shape) headers(token string) http.Header {
	h := s.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h
}

func (s shape) encode(body map[string]any) []byte {
	if s.media == "application/x-www-form-urlencoded" {
		v := url.Values{}
		for k, x := range body {
			v.Set(k, fmt.Sprint(x))
		}
		return []byte(v.Encode())
	}
	b, _ := json.Marshal(body)
	return b
}

// base is the request that every input case starts from.
func (s shape) base(op Operation) sweepCase {
	sc := sweepCase{path: s.url(op, s.path, s.query), header: s.headers(s.token)}
	switch {
	case s.media == "":
	case s.rawBody != nil:
		sc.body, sc.contentType = s.rawBody, s.media
	default:
		sc.body, sc.contentType = s.encode(s.body), s.media
	}
	return sc
}

func (c *Contract) shapeOf(op Operation, o *v3.Operation, params []*v3.Parameter, cfg SweepConfig) shape {
	s := shape{path: map[string]string{}, query: url.Values{}, header: http.Header{}, token: cfg.Token(op)}
	var real map[string]string
	if cfg.PathParams != nil {
		real = cfg.PathParams(op)
	}
	for _, p := range params {
		sch := schemaOf(p.Schema)
		switch p.In {
		case "path":
			if v, ok := real[p.Name]; ok {
				s.path[p.Name] = v
			} else {
				s.path[p.Name] = fmt.Sprint(generate(sch, 0))
			}
		case "query":
			if p.Required != nil && *p.Required {
				s.query.Set(p.Name, fmt.Sprint(generate(sch, 0)))
			}
		case "header":
			if p.Required != nil && *p.Required {
				v := fmt.Sprint(generate(sch, 0))
				if strings.EqualFold(p.Name, "If-Match") {
					v = `"999999"` // a version no fixture has: an update that gets through is refused
				}
				s.header.Set(p.Name, v)
			}
		}
	}
	if o.RequestBody != nil && o.RequestBody.Content != nil {
		for media, mt := range o.RequestBody.Content.FromOldest() {
			s.media = media
			s.schema = schemaOf(mt.Schema)
			break
		}
		switch {
		case isJSON(s.media) || s.media == "application/x-www-form-urlencoded":
			if b, ok := generate(s.schema, 0).(map[string]any); ok {
				s.body = b
			} else {
				s.body = map[string]any{}
			}
		default:
			// A body the service cannot take for valid: a header line of unknown columns.
			s.rawBody = []byte("not_a_column,another\n1,2\n")
		}
	}
	return s
}

func isJSON(media string) bool {
	return media == "application/json" || strings.HasSuffix(media, "+json")
}

// sweepCases lists the bad requests for op.
func (c *Contract) sweepCases(t *testing.T, op Operation, cfg SweepConfig) []sweepCase {
	o, params := c.opModel(op)
	if o == nil {
		t.Fatalf("openapitest: %s is not in the document", op)
	}
	s := c.shapeOf(op, o, params, cfg)
	var out []sweepCase
	add := func(sc sweepCase) { out = append(out, sc) }
	b := func(name string) sweepCase {
		sc := s.base(op)
		sc.name = name
		return sc
	}

	// Tokens.
	if c.secured(o) {
		var badTokens map[string]string
		if cfg.BadTokens != nil {
			badTokens = cfg.BadTokens()
		}
		for _, name := range slices.Sorted(maps.Keys(badTokens)) {
			sc := b("token: " + name)
			sc.header = s.headers(badTokens[name])
			sc.auth = true
			add(sc)
		}
		bad := map[string]string{"no token": "", "garbage token": "x.y.z", "empty bearer": " "}
		for name, tok := range derivedTokens(s.token) {
			bad[name] = tok
		}
		for _, name := range slices.Sorted(maps.Keys(bad)) {
			sc := b("token: " + name)
			sc.header = s.headers(bad[name])
			if bad[name] == "" {
				sc.header.Del("Authorization")
			}
			sc.auth = true
			add(sc)
		}
		if cfg.OtherTenant != nil && len(s.path) > 0 {
			if tok := cfg.OtherTenant(op); tok != "" {
				sc := b("token of another tenant")
				sc.header = s.headers(tok)
				sc.tenant = true
				add(sc)
			}
		}
	}

	// Path parameters.
	for _, p := range params {
		if p.In != "path" {
			continue
		}
		for _, v := range badIDs {
			path := maps.Clone(s.path)
			path[p.Name] = v
			sc := b(fmt.Sprintf("path %s=%q", p.Name, shorten(v)))
			sc.path = s.url(op, path, s.query)
			sc.forced = !validUTF8NoNUL(v)
			add(sc)
		}
		for _, v := range Injections {
			path := maps.Clone(s.path)
			path[p.Name] = v
			sc := b(fmt.Sprintf("path %s=%q", p.Name, v))
			sc.path = s.url(op, path, s.query)
			sc.forced = !validUTF8NoNUL(v)
			add(sc)
		}
	}

	// Query parameters and headers.
	for _, p := range params {
		if p.In != "query" && p.In != "header" {
			continue
		}
		if p.In == "header" && strings.EqualFold(p.Name, "Authorization") {
			continue
		}
		values := append([]string{"abc", "-1", "0", "1e309", "9223372036854775808", "99999999999999999999999", "1.5",
			"maybe", strings.Repeat("a", longString), "\xff\xfe", "a\x00b"}, Injections...)
		for _, v := range values {
			sc := b(fmt.Sprintf("%s %s=%q", p.In, p.Name, shorten(v)))
			if p.In == "query" {
				q := cloneValues(s.query)
				q.Set(p.Name, v)
				sc.path = s.url(op, s.path, q)
			} else {
				if !validHeader(v) {
					continue
				}
				sc.header.Set(p.Name, v)
			}
			sc.forced = !validUTF8NoNUL(v)
			add(sc)
		}
	}

	// Bodies.
	if s.media != "" {
		c.bodyCases(s, b, add)
	}
	c.syntaxCases(op, o, s, b, add)
	c.valueCases(t, op, params, s, cfg, b, add)
	return out
}

func (c *Contract) bodyCases(s shape, b func(string) sweepCase, add func(sweepCase)) {
	raw := func(name string, body []byte, ctype string, forced bool) {
		sc := b(name)
		sc.body, sc.contentType, sc.forced = body, ctype, forced
		add(sc)
	}
	// Bodies that are bad whatever the media type.
	raw("body: empty", []byte{}, s.media, true)
	raw("body: invalid UTF-8", []byte("{\"a\":\"\xff\xfe\"}\n\xff"), s.media, true)
	raw("body: NUL bytes", []byte("\x00\x00\x00"), s.media, true)
	raw("body: over 1 MiB", bytes.Repeat([]byte("a"), oversize), s.media, true)
	raw("body: wrong content type", []byte(`<x/>`), "application/xml", true)
	raw("body: without content type", []byte(`{}`), "", true)
	if !isJSON(s.media) && s.media != "application/x-www-form-urlencoded" {
		for _, v := range Injections {
			raw(fmt.Sprintf("body: %q", v), []byte(v+"\n"+v+"\n"), s.media, true)
		}
		return
	}
	if s.media == "application/x-www-form-urlencoded" {
		raw("body: not form-encoded", []byte("%zz=%%%"), s.media, true)
	}
	if isJSON(s.media) {
		for _, m := range []string{`{`, `{"a":`, `{"a" 1}`, `[`, `{"a":1}}`, `{}{}`, `{"a":1,}`, `nul`, `'{}'`, `{"a":"\u00"}`} {
			raw(fmt.Sprintf("body: malformed %q", m), []byte(m), s.media, true)
		}
		for _, m := range []string{`[]`, `"text"`, `42`, `true`, `null`, `[{}]`} {
			raw(fmt.Sprintf("body: JSON %s, not an object", m), []byte(m), s.media, false)
		}
		// An over-1-MiB body that is valid JSON: the size alone must refuse it.
		big := cloneMap(s.body)
		big["zz_padding"] = strings.Repeat("a", oversize)
		raw("body: valid JSON over 1 MiB", s.encode(big), s.media, true)
	}
	body := func(name string, v map[string]any) {
		sc := b(name)
		sc.body = s.encode(v)
		add(sc)
	}
	unknown := cloneMap(s.body)
	unknown["zz_unknown_field"] = 1
	body("body: unknown field", unknown)
	if s.schema == nil {
		return
	}
	for _, name := range s.schema.Required {
		v := cloneMap(s.body)
		delete(v, name)
		body("body: without required "+name, v)
	}
	for _, f := range fields(s.schema, "", 0) {
		for _, w := range wrongValues(f.schema) {
			v := cloneMap(s.body)
			setPath(v, f.path, w, s.schema)
			body(fmt.Sprintf("body: %s = %s", strings.Join(f.path, "."), shortJSON(w)), v)
		}
	}
	// Hostile and oversize strings in every string field at once; when the contract takes
	// that, without the first required field, so the strings still reach the decoders.
	var strs [][]string
	for _, f := range fields(s.schema, "", 0) {
		if slices.Contains(f.schema.Type, "string") || len(f.schema.Type) == 0 {
			strs = append(strs, f.path)
		}
	}
	if len(strs) == 0 {
		return
	}
	for _, v := range append(slices.Clone(Injections), strings.Repeat("x", longString), "\u202e\u0000") {
		for _, drop := range []bool{false, true} {
			m := cloneMap(s.body)
			for _, p := range strs {
				setPath(m, p, v, s.schema)
			}
			name := fmt.Sprintf("body: every string %q", shorten(v))
			if drop {
				if len(s.schema.Required) == 0 {
					continue
				}
				delete(m, s.schema.Required[0])
				name += " without " + s.schema.Required[0]
			}
			sc := b(name)
			sc.body = s.encode(m)
			sc.forced = !validUTF8NoNUL(v)
			add(sc)
		}
	}
}

func shortJSON(v any) string {
	b, _ := json.Marshal(v)
	return shorten(string(b))
}

func validUTF8NoNUL(s string) bool {
	return !strings.ContainsRune(s, 0) && strings.ToValidUTF8(s, "\ufffd") == s
}

// validHeader reports whether v can be sent as a header value at all.
func validHeader(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 && v[i] != '\t' || v[i] == 0x7f {
			return false
		}
	}
	return len(v) < 16<<10
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, x := range v {
		out[k] = slices.Clone(x)
	}
	return out
}

func cloneMap(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	if out == nil {
		out = map[string]any{}
	}
	return out
}

// derivedTokens forges tokens from a valid compact JWT: alg none, a tampered payload with the
// original signature, a cut signature.
func derivedTokens(tok string) map[string]string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	enc := base64.RawURLEncoding
	out := map[string]string{"cut signature": parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])/2]}
	var header map[string]any
	if h, err := enc.DecodeString(parts[0]); err == nil && json.Unmarshal(h, &header) == nil {
		header["alg"] = "none"
		hb, _ := json.Marshal(header)
		out["alg none"] = enc.EncodeToString(hb) + "." + parts[1] + "."
	}
	var claims map[string]any
	if p, err := enc.DecodeString(parts[1]); err == nil && json.Unmarshal(p, &claims) == nil {
		claims["role"] = "ambito_admin"
		claims["ambito"] = uuid.NewString()
		claims["exp"] = time.Now().Add(24 * time.Hour).Unix()
		pb, _ := json.Marshal(claims)
		out["tampered payload"] = parts[0] + "." + enc.EncodeToString(pb) + "." + parts[2]
	}
	return out
}

// field is a property of a body schema, by path from the root.
type field struct {
	path   []string
	schema *base.Schema
}

// fields lists the properties of an object schema, and those of its object properties (two
// levels), in a stable order.
func fields(s *base.Schema, _ string, depth int) []field {
	s = merged(s)
	if s == nil || s.Properties == nil || depth > 1 {
		return nil
	}
	var out []field
	for name, p := range s.Properties.FromOldest() {
		ps := merged(schemaOf(p))
		if ps == nil {
			continue
		}
		out = append(out, field{path: []string{name}, schema: ps})
		if slices.Contains(ps.Type, "object") {
			for _, sub := range fields(ps, "", depth+1) {
				out = append(out, field{path: append([]string{name}, sub.path...), schema: sub.schema})
			}
		}
	}
	return out
}

// setPath sets v at path in m, creating the objects on the way from the schema.
func setPath(m map[string]any, path []string, v any, s *base.Schema) {
	for i, name := range path {
		if i == len(path)-1 {
			m[name] = v
			return
		}
		var ps *base.Schema
		if s = merged(s); s != nil && s.Properties != nil {
			if p, ok := s.Properties.Get(name); ok {
				ps = merged(schemaOf(p))
			}
		}
		next, ok := m[name].(map[string]any)
		if !ok {
			next, _ = generate(ps, 1).(map[string]any)
			if next == nil {
				next = map[string]any{}
			}
			m[name] = next
		}
		m, s = next, ps
	}
}

// wrongValues returns values of other JSON types than the schema's, and for numbers the
// negative, overflowing and fractional ones.
func wrongValues(s *base.Schema) []any {
	types := s.Type
	has := func(t string) bool { return slices.Contains(types, t) }
	var out []any
	if !has("string") {
		out = append(out, "not-a-"+strings.Join(types, "-"))
	}
	if !has("integer") && !has("number") {
		out = append(out, 12345)
	}
	if !has("boolean") {
		out = append(out, true)
	}
	if !has("object") {
		out = append(out, map[string]any{"x": 1})
	}
	if !has("array") {
		out = append(out, []any{"x", 1})
	}
	if has("integer") || has("number") {
		out = append(out, -1, json.Number("1e309"), json.Number("9223372036854775808"), json.Number("-9223372036854775809"), math.MaxInt64, 1.5)
	}
	if has("string") && s.Format != "" {
		out = append(out, "not-a-"+s.Format)
	}
	if has("string") && len(s.Enum) > 0 {
		out = append(out, "not_in_the_enum")
	}
	return out
}

func schemaOf(p *base.SchemaProxy) *base.Schema {
	if p == nil {
		return nil
	}
	return p.Schema()
}

// merged folds allOf into one schema and picks the first of oneOf/anyOf.
func merged(s *base.Schema) *base.Schema {
	if s == nil {
		return nil
	}
	if len(s.AllOf) == 0 && len(s.OneOf) == 0 && len(s.AnyOf) == 0 {
		return s
	}
	out := *s
	parts := slices.Clone(s.AllOf)
	if len(s.OneOf) > 0 {
		parts = append(parts, s.OneOf[0])
	}
	if len(s.AnyOf) > 0 {
		parts = append(parts, s.AnyOf[0])
	}
	for _, p := range parts {
		ps := merged(schemaOf(p))
		if ps == nil {
			continue
		}
		if len(out.Type) == 0 {
			out.Type = ps.Type
		}
		out.Required = append(slices.Clone(out.Required), ps.Required...)
		if ps.Properties != nil {
			if out.Properties == nil {
				out.Properties = ps.Properties
			} else {
				for k, v := range ps.Properties.FromOldest() {
					out.Properties.Set(k, v)
				}
			}
		}
	}
	return &out
}

// generate returns a value that has the schema's shape: required properties only, enums'
// first value, formats honoured. It need not pass the service's rules, but it should pass the
// contract, or every case the sweep derives from it is sent as bad input whatever it varies
// (a valid Idempotency-Key then stores the answer). maxGenerateDepth only stops recursive
// schemas: it is deep enough for arrays of objects holding arrays of objects (an intake
// taxonomy extension, areas[].needs[].code, is at depth 5).
const maxGenerateDepth = 8

func generate(s *base.Schema, depth int) any {
	s = merged(s)
	if s == nil || depth > maxGenerateDepth {
		return "x"
	}
	if s.Const != nil {
		var v any
		if s.Const.Decode(&v) == nil {
			return v
		}
	}
	if len(s.Enum) > 0 {
		var v any
		if s.Enum[0].Decode(&v) == nil && v != nil {
			return v
		}
	}
	if s.Default != nil {
		var v any
		if s.Default.Decode(&v) == nil && v != nil {
			return v
		}
	}
	types := slices.DeleteFunc(slices.Clone(s.Type), func(t string) bool { return t == "null" })
	t := "string"
	if len(types) > 0 {
		t = types[0]
	} else if s.Properties != nil {
		t = "object"
	}
	switch t {
	case "object":
		m := map[string]any{}
		req := slices.Clone(s.Required)
		sort.Strings(req)
		for _, name := range req {
			var ps *base.Schema
			if s.Properties != nil {
				if p, ok := s.Properties.Get(name); ok {
					ps = schemaOf(p)
				}
			}
			m[name] = generate(ps, depth+1)
		}
		return m
	case "array":
		if s.Items != nil && s.Items.IsA() {
			return []any{generate(schemaOf(s.Items.A), depth+1)}
		}
		return []any{}
	case "integer":
		if s.Minimum != nil {
			return int64(*s.Minimum)
		}
		return 1
	case "number":
		if s.Minimum != nil {
			return *s.Minimum
		}
		return 1
	case "boolean":
		return true
	}
	switch s.Format {
	case "uuid":
		return uuid.NewString()
	case "date":
		return "2024-01-02"
	case "date-time":
		return "2024-01-02T10:00:00Z"
	case "email":
		return "sweep@example.org"
	}
	if len(s.Examples) > 0 {
		var v any
		if s.Examples[0].Decode(&v) == nil {
			if str, ok := v.(string); ok {
				return str
			}
		}
	}
	n := 1
	if s.MinLength != nil && *s.MinLength > 1 {
		n = int(*s.MinLength)
	}
	return strings.Repeat("x", n)
}
