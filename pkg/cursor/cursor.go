// Package cursor makes and reads the opaque cursors of list pagination (DESIGN.md "Lists":
// ?limit=&cursor=, answered with next_cursor).
//
// A cursor is bound to its list and to the list's criteria: it carries, after the position, a
// short hash (8 bytes of SHA-256) of the list's name, of its normalized criteria (every filter,
// not the page size) and of the position. A cursor of another list, of the same list with other
// criteria, or altered on the way does not match and is refused as an invalid "cursor" field,
// instead of silently paging through another result. The hash binds; it does not authenticate:
// a position is not a secret, and every page is still read with the caller's own rights.
package cursor

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"strings"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// tagLen is the length of the hash a cursor carries.
const tagLen = 8

// MaxLen bounds the length of a cursor a list reads (httpapi.ListParams refuses longer ones).
const MaxLen = 512

// List makes and reads the cursors of one list with given criteria.
type List struct{ key []byte }

// For returns the cursors of the list named list (a stable name: "operators",
// "citizens:search") with the normalized criteria, in a fixed order. Every filter that changes
// the result belongs in criteria; the page size does not.
func For(list string, criteria ...string) List {
	var key []byte
	for _, s := range append([]string{list}, criteria...) {
		key = binary.AppendUvarint(key, uint64(len(s)))
		key = append(key, s...)
	}
	return List{key: key}
}

func (l List) tag(position string) []byte {
	h := sha256.New()
	h.Write(l.key)
	h.Write([]byte(position))
	return h.Sum(nil)[:tagLen]
}

// Encode makes the cursor of a position in the list.
func (l List) Encode(position string) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte(position), l.tag(position)...))
}

// Decode reads a cursor made by Encode of the same list and criteria; "" is the start of the
// list. Any other cursor is an invalid "cursor" field.
func (l List) Decode(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(c) > MaxLen || len(b) < tagLen {
		return "", invalid()
	}
	position, tag := string(b[:len(b)-tagLen]), b[len(b)-tagLen:]
	if subtle.ConstantTimeCompare(tag, l.tag(position)) != 1 {
		return "", invalid()
	}
	return position, nil
}

func invalid() error {
	return errs.InvalidField("cursor", "is not a cursor returned by this list with these criteria")
}

// Page is a page of a list: its items and, when more follow, the cursor of the next page
// (DESIGN.md "Lists").
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// PageOf cuts a page of limit items from items, read with limit+1 so that one more tells that a
// next page exists, and makes that page's cursor with l from the position of the page's last
// item. Items is never nil (an empty list is [] in JSON).
func PageOf[T any](items []T, limit int, l List, position func(T) string) Page[T] {
	p := Page[T]{Items: items}
	if limit >= 0 && len(items) > limit {
		p.Items = items[:limit]
		if limit > 0 {
			p.NextCursor = l.Encode(position(items[limit-1]))
		}
	}
	if p.Items == nil {
		p.Items = []T{}
	}
	return p
}

// Name is the position after a person in a list ordered by name: family name, given name, id
// (operators, residents).
type Name struct {
	FamilyName, GivenName string
	ID                    uuid.UUID
}

// NamePosition is the position of a person in a list ordered by name (the position PageOf
// takes, and DecodeName reads back).
func NamePosition(family, given string, id uuid.UUID) string {
	return family + "\x00" + given + "\x00" + id.String()
}

// DecodeName reads a cursor of l made from a NamePosition: nil for "" (the first page).
func (l List) DecodeName(c string) (*Name, error) {
	pos, err := l.Decode(c)
	if err != nil || pos == "" {
		return nil, err
	}
	parts := strings.Split(pos, "\x00")
	id, perr := uuid.Parse(parts[len(parts)-1])
	if len(parts) != 3 || perr != nil {
		return nil, invalid()
	}
	return &Name{FamilyName: parts[0], GivenName: parts[1], ID: id}, nil
}

// DecodeID reads a cursor whose position is an id (lists ordered by id, PageOf with the item's
// id as position): nil at the start of the list. Any other cursor is an invalid "cursor" field.
func (l List) DecodeID(c string) (*uuid.UUID, error) {
	pos, err := l.Decode(c)
	if err != nil || pos == "" {
		return nil, err
	}
	id, err := uuid.Parse(pos)
	if err != nil {
		return nil, errs.InvalidField("cursor", "is not a cursor returned by this list")
	}
	return &id, nil
}
