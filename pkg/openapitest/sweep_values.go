package openapitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// Values that pass a contract's types and that the store refuses or the domain cannot hold; the
// sweep sends each alone, in one property or parameter of an otherwise unchanged request, so
// that it reaches the validation, and the store when the validation forgets it.

// bodyControls are control characters no JSON string of the suite may hold: NUL, which
// PostgreSQL refuses in text, and the other C0/C1 controls but tab and line breaks (which free
// text may hold).
var bodyControls = []string{"a\x00b", "a\x01b", "a\x1bb", "a\x7fb", "a\u0085b"}

// queryControls are control characters no query parameter may hold (every one is single-line).
var queryControls = []string{"a\x01b", "a\tb", "a\nb", "a\rb", "a\x1bb", "a\x7fb", "a\u0085b", "a\u009fb"}

// badDates are dates no date field of the suite takes: years Go or PostgreSQL cannot hold, before
// 1900 (no birth, no validity) and far in the future.
var badDates = []string{"0000-01-01", "-0001-01-01", "10000-01-01", "294277-01-01", "1899-12-31", "2999-12-31"}

// badTimes are the same for timestamps.
var badTimes = []string{"0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "-0001-01-01T00:00:00Z", "10000-01-01T00:00:00Z",
	"294277-01-01T00:00:00Z", "1899-12-31T00:00:00Z", "2999-12-31T00:00:00Z"}

func badValuesOf(s *base.Schema) []string {
	switch s.Format {
	case "date":
		return badDates
	case "date-time":
		return badTimes
	}
	return nil
}

// valueCases adds the cases of values a contract cannot refuse but the suite must: control
// characters in each string property and query parameter, out-of-range and implausible dates
// and timestamps, and cursors of another list or of other criteria. They are forced: the
// contract may accept them.
func (c *Contract) valueCases(t *testing.T, op Operation, params []*v3.Parameter, s shape, cfg SweepConfig, b func(string) sweepCase, add func(sweepCase)) {
	forced := func(sc sweepCase) {
		sc.forced = true
		add(sc)
	}
	for _, p := range params {
		if p.In != "query" {
			continue
		}
		sch := merged(schemaOf(p.Schema))
		values := slices.Clone(queryControls)
		if sch != nil {
			values = append(values, badValuesOf(sch)...)
		}
		for _, v := range values {
			q := cloneValues(s.query)
			q.Set(p.Name, v)
			sc := b(fmt.Sprintf("query %s=%q", p.Name, v))
			sc.path = s.url(op, s.path, q)
			forced(sc)
		}
	}
	if s.schema != nil && s.body != nil {
		for _, f := range fields(s.schema, "", 0) {
			var values []any
			switch {
			case isString(f.schema):
				for _, v := range bodyControls {
					values = append(values, v)
				}
				for _, v := range badValuesOf(f.schema) {
					values = append(values, v)
				}
			case slices.Contains(f.schema.Type, "array") && f.schema.Items != nil && f.schema.Items.IsA() && isString(merged(schemaOf(f.schema.Items.A))):
				for _, v := range bodyControls {
					values = append(values, []any{v})
				}
			}
			for _, v := range values {
				m := cloneMap(s.body)
				setPath(m, f.path, v, s.schema)
				sc := b(fmt.Sprintf("body: %s = %s", strings.Join(f.path, "."), shortJSON(v)))
				sc.body = s.encode(m)
				forced(sc)
			}
		}
	}
	for _, sc := range c.cursorCases(t, op, s, cfg, b) {
		forced(sc)
	}
}

func isString(s *base.Schema) bool {
	return s != nil && (slices.Contains(s.Type, "string") || len(s.Type) == 0 && s.Properties == nil)
}

// listOf describes how op pages: by a "cursor" query parameter or body property, with a
// "limit" beside it. ok is false for an operation that does not page.
type listOf struct {
	inBody bool
	params []string // the other query parameters or body properties: the criteria
}

func (c *Contract) list(op Operation) (listOf, bool) {
	o, params := c.opModel(op)
	if o == nil {
		return listOf{}, false
	}
	var l listOf
	paged := false
	for _, p := range params {
		if p.In != "query" {
			continue
		}
		if p.Name == "cursor" {
			paged = true
		} else if p.Name != "limit" {
			l.params = append(l.params, p.Name)
		}
	}
	if paged {
		return l, true
	}
	if o.RequestBody == nil || o.RequestBody.Content == nil {
		return listOf{}, false
	}
	for media, mt := range o.RequestBody.Content.FromOldest() {
		sch := merged(schemaOf(mt.Schema))
		if !isJSON(media) || sch == nil || sch.Properties == nil {
			break
		}
		if _, ok := sch.Properties.Get("cursor"); !ok {
			break
		}
		l.inBody = true
		for name := range sch.Properties.FromOldest() {
			if name != "cursor" && name != "limit" {
				l.params = append(l.params, name)
			}
		}
		return l, true
	}
	return listOf{}, false
}

// listRequest is op's request with criteria (SweepConfig.ListCriteria), limit=1 and cursor.
func (c *Contract) listRequest(op Operation, s shape, l listOf, criteria map[string]any, cursor string) sweepCase {
	sc := s.base(op)
	if l.inBody {
		m := cloneMap(s.body)
		for k, v := range criteria {
			m[k] = v
		}
		m["limit"] = 1
		if cursor != "" {
			m["cursor"] = cursor
		}
		sc.body = s.encode(m)
		return sc
	}
	q := cloneValues(s.query)
	for k, v := range criteria {
		q.Set(k, fmt.Sprint(v))
	}
	q.Set("limit", "1")
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	sc.path = s.url(op, s.path, q)
	return sc
}

// nextCursor calls a list with limit=1 and returns the next_cursor of its answer ("" when the
// list has no second item, or the call failed).
func (c *Contract) nextCursor(t *testing.T, op Operation, cfg SweepConfig) string {
	l, ok := c.list(op)
	if !ok {
		return ""
	}
	o, params := c.opModel(op)
	s := c.shapeOf(op, o, params, cfg)
	var criteria map[string]any
	if cfg.ListCriteria != nil {
		criteria = cfg.ListCriteria(op)
	}
	sc := c.listRequest(op, s, l, criteria, "")
	client := cfg.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(c.request(t, op, cfg, sc))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var page struct {
		NextCursor string `json:"next_cursor"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(bytes.NewReader(data)).Decode(&page) != nil {
		return ""
	}
	return page.NextCursor
}

// cursorCases are, for a list, a real cursor of each other list of the contract and its own
// cursor with each criterion changed: each must be refused.
func (c *Contract) cursorCases(t *testing.T, op Operation, s shape, cfg SweepConfig, b func(string) sweepCase) []sweepCase {
	l, ok := c.list(op)
	if !ok {
		return nil
	}
	var criteria map[string]any
	if cfg.ListCriteria != nil {
		criteria = cfg.ListCriteria(op)
	}
	var out []sweepCase
	for _, other := range c.ops {
		if other == op {
			continue
		}
		if _, ok := cfg.Skip[other.OperationID]; ok {
			continue
		}
		cur := c.nextCursor(t, other, cfg)
		if cur == "" {
			continue
		}
		sc := c.listRequest(op, s, l, criteria, cur)
		sc.name = "cursor of " + other.OperationID
		out = append(out, sc)
	}
	own := c.nextCursor(t, op, cfg)
	if own == "" {
		t.Logf("sweep: %s returns no next_cursor with limit=1: no cursor of other criteria sent (give fixtures in ListCriteria)", op)
		return out
	}
	o, params := c.opModel(op)
	for _, name := range l.params {
		changed := maps.Clone(criteria)
		if changed == nil {
			changed = map[string]any{}
		}
		changed[name] = otherValue(c.criterionSchema(o, params, l, name), changed[name])
		sc := c.listRequest(op, s, l, changed, own)
		sc.name = fmt.Sprintf("own cursor with %s=%v", name, changed[name])
		out = append(out, sc)
	}
	return out
}

func (c *Contract) criterionSchema(o *v3.Operation, params []*v3.Parameter, l listOf, name string) *base.Schema {
	if !l.inBody {
		for _, p := range params {
			if p.In == "query" && p.Name == name {
				return merged(schemaOf(p.Schema))
			}
		}
		return nil
	}
	for _, mt := range o.RequestBody.Content.FromOldest() {
		if sch := merged(schemaOf(mt.Schema)); sch != nil && sch.Properties != nil {
			if p, ok := sch.Properties.Get(name); ok {
				return merged(schemaOf(p))
			}
		}
		break
	}
	return nil
}

// otherValue returns a valid-looking value of the schema other than old.
func otherValue(s *base.Schema, old any) any {
	if s != nil && len(s.Enum) > 0 {
		for _, e := range s.Enum {
			var v any
			if e.Decode(&v) == nil && v != nil && fmt.Sprint(v) != fmt.Sprint(old) {
				return v
			}
		}
	}
	if s != nil && slices.Contains(s.Type, "boolean") {
		return fmt.Sprint(old) != "true"
	}
	v := generate(s, 0)
	if s != nil && s.Format == "uuid" {
		v = uuid.NewString()
	}
	if fmt.Sprint(v) == fmt.Sprint(old) {
		format := ""
		if s != nil {
			format = s.Format
		}
		switch format {
		case "date":
			v = "2024-01-03"
		case "date-time":
			v = "2024-01-03T10:00:00Z"
		default:
			v = fmt.Sprint(old) + "z"
		}
	}
	return v
}
