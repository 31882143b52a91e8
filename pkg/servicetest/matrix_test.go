package servicetest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPathParams(t *testing.T) {
	for _, tc := range []struct {
		tmpl, path string
		want       map[string]string
		match      bool
	}{
		{"/v1/cases/{id}", "/v1/cases/abc", map[string]string{"id": "abc"}, true},
		{"/v1/cases/{id}/diary/{entry}", "/v1/cases/a/diary/b?limit=1", map[string]string{"id": "a", "entry": "b"}, true},
		{"/v1/cases/{id}:close", "/v1/cases/a:close", map[string]string{"id": "a"}, true},
		{"/v1/cases/{id}", "/v1/cases/a:close", map[string]string{}, false},
		{"/v1/cases/{id}", "/v1/cases/a/plan", map[string]string{}, false},
		{"/v1/cases:search", "/v1/cases:search", map[string]string{}, true},
	} {
		re, _ := templateRegexp(tc.tmpl)
		path, _, _ := strings.Cut(tc.path, "?")
		if got := re.MatchString(path); got != tc.match {
			t.Errorf("%s matches %s: %v, want %v", tc.tmpl, tc.path, got, tc.match)
		}
		if !tc.match {
			continue
		}
		if diff := cmp.Diff(PathParams(tc.tmpl, tc.path), tc.want); diff != "" {
			t.Errorf("PathParams(%s, %s) (-got +want):\n%s", tc.tmpl, tc.path, diff)
		}
	}
}
