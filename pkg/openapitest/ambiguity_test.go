package openapitest_test

import (
	"testing"

	"github.com/csi-lombardia/csi/pkg/openapitest"
)

func TestJSONAmbiguity(t *testing.T) {
	tests := []struct {
		body      string
		ambiguous bool
	}{
		{`{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}`, false},
		{`{"a":1,"a":2}`, true},
		{`{"a":1,"A":2}`, true},
		{`{"b":{"a":1,"a":2}}`, true},
		{`{"c":[{"a":3},{"b":1,"a":4,"a":5}]}`, true},
		{`{"a":"\ud800"}`, true},
		{`{"a":"\ud83d\ude00"}`, false},
		{`{"a":"\ufffd"}`, false},
		{"{\"a\":\"\uFFFD\"}", false},
		{`{"a":`, false},
	}
	for _, tc := range tests {
		if got := openapitest.JSONAmbiguity([]byte(tc.body)); (got != "") != tc.ambiguous {
			t.Errorf("JSONAmbiguity(%s) = %q, want ambiguous %v", tc.body, got, tc.ambiguous)
		}
	}
	if got := openapitest.FormAmbiguity([]byte("a=1&b=2&a=3")); got == "" {
		t.Error("FormAmbiguity of a repeated field = \"\"")
	}
	if got := openapitest.FormAmbiguity([]byte("a=1&b=2")); got != "" {
		t.Errorf("FormAmbiguity(a=1&b=2) = %q", got)
	}
}
