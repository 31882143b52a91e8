package charttest

import (
	"testing"
)

// TestStrictDecodingRefusesMistakes shows that the decoder the render tests use fails on an
// unknown field, a duplicated field and a value of the wrong type, and accepts a correct
// document.
func TestStrictDecodingRefusesMistakes(t *testing.T) {
	const head = "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n"
	cases := []struct {
		name    string
		doc     string
		wantErr bool
	}{
		{"valid", head + "spec:\n  ports:\n    - port: 80\n", false},
		{"unknown field", head + "spec:\n  portz:\n    - port: 80\n", true},
		{"duplicated field", head + "  labels:\n    a: b\n    a: c\nspec:\n  ports:\n    - port: 80\n", true},
		{"wrong type", head + "spec:\n  ports:\n    - port: eighty\n", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeStrict(document{source: c.name, raw: []byte(c.doc)})
			if got := err != nil; got != c.wantErr {
				t.Errorf("decode error = %v, want error: %v", err, c.wantErr)
			}
		})
	}
}
