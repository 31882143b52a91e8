// Package cursor makes and reads the opaque cursors of list pagination (DESIGN.md "Lists":
// ?limit=&cursor=, answered with next_cursor).
package cursor

import (
	"encoding/base64"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// Encode makes an opaque cursor of a position in a list.
func Encode(position string) string { return base64.RawURLEncoding.EncodeToString([]byte(position)) }

// Decode reads a cursor made by Encode; "" is the start of the list. A cursor that was not
// made by Encode is an invalid "cursor" field.
func Decode(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", errs.InvalidField("cursor", "is not a cursor returned by this list")
	}
	return string(b), nil
}
