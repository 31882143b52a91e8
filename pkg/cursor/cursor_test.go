package cursor

import (
	"testing"

	"github.com/csi-lombardia/csi/pkg/errs"
)

func TestRoundTripAndGarbage(t *testing.T) {
	for _, pos := range []string{"", "a", "Rossi\x00Mario\x00018f", "ùñí©ødé"} {
		got, err := Decode(Encode(pos))
		if err != nil || got != pos {
			t.Errorf("Decode(Encode(%q)) = %q, %v", pos, got, err)
		}
	}
	if _, err := Decode("not base64!"); errs.KindOf(err) != errs.Invalid {
		t.Errorf("garbage cursor: %v, want an Invalid error", err)
	}
}
