package openapitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// The syntax cases of the sweep: requests whose bytes a lax decoder reads one way or another
// although no schema can say so, each of which must be refused with a given status naming a
// given field:
//
//   - a JSON member given twice, at the top level, in a nested object and in an object of an
//     array (400 naming "name", "residence.istat_code", "members[0].name");
//   - an escaped UTF-16 surrogate that is not half of a pair in each string property (400
//     naming the property);
//   - a form field given twice, for each property of a form-encoded body (400 naming it);
//   - the body without Content-Type and as text/plain (415 naming "Content-Type");
//   - the path with a ".", ".." or empty segment, plain and percent-encoded (400 naming "path",
//     never ServeMux's 301 to the cleaned path). The answer is checked against the
//     contract as an answer of the operation itself.

// surrogates are the escaped unpaired surrogates the sweep puts in string properties.
var surrogates = []string{`\ud800`, `\udc00x`, `\ud800\u0041`}

// surrogateMark stands for a surrogate in a generated body until the body is encoded.
const surrogateMark = "zz-openapitest-surrogate-zz"

// syntaxCases adds the syntax cases of op to the sweep.
func (c *Contract) syntaxCases(op Operation, o *v3.Operation, s shape, b func(string) sweepCase, add func(sweepCase)) {
	for _, sc := range pathCases(op, s, b) {
		add(sc)
	}
	if o.RequestBody == nil || o.RequestBody.Content == nil {
		return
	}
	var medias []string
	for media, mt := range o.RequestBody.Content.FromOldest() {
		medias = append(medias, media)
		schema := schemaOf(mt.Schema)
		body, _ := generate(schema, 0).(map[string]any)
		if body == nil {
			body = map[string]any{}
		}
		raw := func(name string, data []byte, field string) {
			sc := b(name)
			sc.body, sc.contentType, sc.forced, sc.want, sc.field = data, media, true, http.StatusBadRequest, field
			add(sc)
		}
		switch {
		case isJSON(media):
			for _, d := range repeatedMembers(schema, body) {
				raw(fmt.Sprintf("syntax (%s): member %s given twice", media, d.field), d.body, d.field)
			}
			i := 0
			for _, f := range fields(schema, "", 0) {
				if !slices.Contains(f.schema.Type, "string") && len(f.schema.Type) != 0 {
					continue
				}
				esc := surrogates[i%len(surrogates)]
				i++
				m := cloneMap(body)
				setPath(m, f.path, surrogateMark, schema)
				data, _ := json.Marshal(m)
				data = bytes.Replace(data, []byte(surrogateMark), []byte(esc), 1)
				name := strings.Join(f.path, ".")
				raw(fmt.Sprintf("syntax (%s): %s holding %s", media, name, esc), data, name)
			}
		case media == "application/x-www-form-urlencoded":
			if schema = merged(schema); schema == nil || schema.Properties == nil {
				continue
			}
			form := url.Values{}
			for k, x := range body {
				form.Set(k, fmt.Sprint(x))
			}
			for name := range schema.Properties.FromOldest() {
				v := cloneValues(form)
				if v.Get(name) == "" {
					v.Set(name, "x")
				}
				data := v.Encode() + "&" + url.QueryEscape(name) + "=" + url.QueryEscape(v.Get(name))
				raw(fmt.Sprintf("syntax (%s): field %s given twice", media, name), []byte(data), name)
			}
		}
	}
	// A body the operation would take but for its media type.
	sc := s.base(op)
	for _, ctype := range []string{"", "text/plain"} {
		if slices.Contains(medias, ctype) {
			continue
		}
		m := sc
		m.name = fmt.Sprintf("syntax: body with Content-Type %q", ctype)
		if ctype == "" {
			m.name = "syntax: body without Content-Type"
		}
		if m.body == nil {
			m.body = []byte("{}")
		}
		m.header = m.header.Clone()
		m.contentType, m.forced, m.want, m.field = ctype, true, http.StatusUnsupportedMediaType, "Content-Type"
		add(m)
	}
}

// pathCases are the variants of op's path with dot segments and empty segments.
func pathCases(op Operation, s shape, b func(string) sweepCase) []sweepCase {
	base := s.base(op)
	p, query, _ := strings.Cut(base.path, "?")
	if query != "" {
		query = "?" + query
	}
	// Insert after the first segment ("/v1" of "/v1/citizens"), or at the start of a path of
	// one segment ("/healthz").
	head, tail := "", p
	if i := strings.IndexByte(p[1:], '/'); i >= 0 {
		head, tail = p[:i+1], p[i+1:]
	}
	variants := []string{
		head + "/." + tail,
		head + "/x/.." + tail,
		"/" + p,
		head + "/%2e%2e" + head + tail, // "/v1/../v1/citizens"
		head + "/%2E" + tail,
		head + "/x%2F..%2F" + tail[1:],
		p + "/.",
	}
	if head != "" {
		variants = append(variants, head+"/"+tail)
	}
	var out []sweepCase
	for _, v := range variants {
		sc := b(fmt.Sprintf("syntax: path %s", v))
		sc.path, sc.checkAs, sc.forced, sc.want, sc.field = v+query, p, true, http.StatusBadRequest, "path"
		out = append(out, sc)
	}
	return out
}

// dupBody is a JSON body with one member given twice, and the field that names it.
type dupBody struct {
	field string
	body  []byte
}

// repeatedMembers returns bodies with a member given twice: at the top level, in the first
// object property and in the first array-of-objects property of the schema.
func repeatedMembers(schema *base.Schema, body map[string]any) []dupBody {
	schema = merged(schema)
	if schema == nil || schema.Properties == nil {
		return nil
	}
	var out []dupBody
	// The top level: the first property, given twice.
	for name, p := range schema.Properties.FromOldest() {
		m := cloneMap(body)
		if _, ok := m[name]; !ok {
			m[name] = generate(schemaOf(p), 1)
		}
		out = append(out, dupBody{field: name, body: repeatFirst(m, name)})
		break
	}
	nestedDone, arrayDone := false, false
	for name, p := range schema.Properties.FromOldest() {
		ps := merged(schemaOf(p))
		if ps == nil {
			continue
		}
		switch {
		case !nestedDone && slices.Contains(ps.Type, "object") && ps.Properties != nil && ps.Properties.Len() > 0:
			sub, _ := generate(ps, 1).(map[string]any)
			key, raw := repeatOne(ps, sub)
			m := cloneMap(body)
			m[name] = raw
			data, _ := json.Marshal(m)
			out = append(out, dupBody{field: name + "." + key, body: data})
			nestedDone = true
		case !arrayDone && slices.Contains(ps.Type, "array") && ps.Items != nil && ps.Items.IsA():
			is := merged(schemaOf(ps.Items.A))
			if is == nil || !slices.Contains(is.Type, "object") || is.Properties == nil || is.Properties.Len() == 0 {
				continue
			}
			elem, _ := generate(is, 2).(map[string]any)
			key, raw := repeatOne(is, elem)
			m := cloneMap(body)
			m[name] = []json.RawMessage{raw}
			data, _ := json.Marshal(m)
			out = append(out, dupBody{field: name + "[0]." + key, body: data})
			arrayDone = true
		}
	}
	return out
}

// repeatOne encodes m (of schema s) with its first property given twice.
func repeatOne(s *base.Schema, m map[string]any) (string, json.RawMessage) {
	if m == nil {
		m = map[string]any{}
	}
	for name, p := range s.Properties.FromOldest() {
		if _, ok := m[name]; !ok {
			m[name] = generate(schemaOf(p), 2)
		}
		return name, repeatFirst(m, name)
	}
	return "", nil
}

// repeatFirst encodes m with the member name written once more before the others.
func repeatFirst(m map[string]any, name string) []byte {
	data, _ := json.Marshal(m)
	k, _ := json.Marshal(name)
	v, _ := json.Marshal(m[name])
	out := append([]byte("{"), k...)
	out = append(out, ':')
	out = append(out, v...)
	out = append(out, ',')
	return append(out, data[1:]...)
}

// do sends a case. A case whose path is not one of the contract's (checkAs set) is sent past
// the contract check, and its answer is checked as an answer of the operation at checkAs.
func (c *Contract) do(t *testing.T, client *http.Client, sc sweepCase, req *http.Request) (*http.Response, error) {
	tr, ok := client.Transport.(*transport)
	if sc.checkAs == "" || !ok {
		return client.Do(req)
	}
	raw := &http.Client{Transport: tr.next, Timeout: client.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := raw.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	as := req.Clone(req.Context())
	as.URL = &url.URL{Scheme: req.URL.Scheme, Host: req.URL.Host, Path: sc.checkAs}
	c.Check(t, as, resp, body)
	return resp, nil
}

// expected checks the status and the named field a syntax case wants ("" when they are right).
func (sc sweepCase) expected(status int, data []byte) string {
	if sc.want != 0 && status != sc.want {
		return fmt.Sprintf(", want %d: %s", sc.want, shorten(string(data)))
	}
	if sc.field == "" {
		return ""
	}
	var p struct {
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(data, &p)
	for _, e := range p.Errors {
		if e.Field == sc.field {
			return ""
		}
	}
	return fmt.Sprintf(", the problem does not name %s: %s", sc.field, shorten(string(data)))
}
