package openapitest

import (
	"strings"

	"github.com/pb33f/libopenapi-validator/radix"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// verbLookup finds the path template of a request path. The validator's radix tree matches a
// segment "{id}:merge" of a template as the parameter "{id}" (so "/v1/citizens/{id}:merge"
// would be taken for "/v1/citizens/{id}"), and its regular-expression fallback does not match
// it at all; templates whose segments end in a literal ":verb" after a parameter are matched
// here first, segment by segment, and every other path is left to the tree.
type verbLookup struct {
	tree  radix.PathLookup
	verbs []verbTemplate
}

type verbTemplate struct {
	path string
	item *v3.PathItem
	segs []string
}

func newVerbLookup(m *v3.Document) *verbLookup {
	l := &verbLookup{tree: radix.BuildPathTree(m)}
	if m.Paths == nil || m.Paths.PathItems == nil {
		return l
	}
	for path, item := range m.Paths.PathItems.FromOldest() {
		segs := strings.Split(strings.Trim(path, "/"), "/")
		for _, s := range segs {
			if _, verb, ok := cutVerb(s); ok && verb != "" {
				l.verbs = append(l.verbs, verbTemplate{path: path, item: item, segs: segs})
				break
			}
		}
	}
	return l
}

// cutVerb splits a template segment "{id}:merge" into the parameter and ":merge"; ok is false
// when the segment does not start with a parameter.
func cutVerb(seg string) (param, verb string, ok bool) {
	if !strings.HasPrefix(seg, "{") {
		return "", "", false
	}
	end := strings.IndexByte(seg, '}')
	if end < 0 {
		return "", "", false
	}
	if rest := seg[end+1:]; rest != "" && (!strings.HasPrefix(rest, ":") || strings.ContainsAny(rest, "{}")) {
		return "", "", false
	}
	return seg[:end+1], seg[end+1:], true
}

// Lookup implements radix.PathLookup.
func (l *verbLookup) Lookup(path string) (*v3.PathItem, string, bool) {
	req := strings.Split(strings.Trim(path, "/"), "/")
	for _, v := range l.verbs {
		if matchVerb(v.segs, req) {
			return v.item, v.path, true
		}
	}
	return l.tree.Lookup(path)
}

func matchVerb(tmpl, req []string) bool {
	if len(tmpl) != len(req) {
		return false
	}
	for i, t := range tmpl {
		r := req[i]
		_, verb, ok := cutVerb(t)
		switch {
		case !ok:
			if t != r {
				return false
			}
		case verb == "":
			if r == "" {
				return false
			}
		default:
			if len(r) <= len(verb) || !strings.HasSuffix(r, verb) {
				return false
			}
		}
	}
	return true
}
