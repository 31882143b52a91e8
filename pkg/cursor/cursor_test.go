package cursor

import (
	"encoding/base64"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/errs"
)

func TestRoundTrip(t *testing.T) {
	l := For("operators", "org-1", "ross")
	for _, pos := range []string{"", "a", "Rossi\x00Mario\x00018f", "ùñí©ødé"} {
		got, err := l.Decode(l.Encode(pos))
		if err != nil || got != pos {
			t.Errorf("Decode(Encode(%q)) = %q, %v", pos, got, err)
		}
	}
	if got, err := l.Decode(""); got != "" || err != nil {
		t.Errorf(`Decode("") = %q, %v; want the start of the list`, got, err)
	}
}

// TestBound: a cursor is read only by the list and criteria that made it.
func TestBound(t *testing.T) {
	issued := For("operators", "org-1", "ross").Encode("Rossi\x00Mario\x00018f")
	raw, _ := base64.RawURLEncoding.DecodeString(issued)
	tampered := append([]byte(nil), raw...)
	tampered[0] ^= 1
	for _, tc := range []struct {
		name   string
		list   List
		cursor string
		ok     bool
	}{
		{"same list and criteria", For("operators", "org-1", "ross"), issued, true},
		{"another list", For("organizations", "org-1", "ross"), issued, false},
		{"other criteria", For("operators", "org-2", "ross"), issued, false},
		{"criteria moved between fields", For("operators", "org-1ross", ""), issued, false},
		{"a criterion more", For("operators", "org-1", "ross", ""), issued, false},
		{"no criteria", For("operators"), issued, false},
		{"tampered position", For("operators", "org-1", "ross"), base64.RawURLEncoding.EncodeToString(tampered), false},
		{"cut", For("operators", "org-1", "ross"), issued[:len(issued)-2], false},
		{"unbound position (the old cursors)", For("operators", "org-1", "ross"), base64.RawURLEncoding.EncodeToString([]byte("Rossi\x00Mario\x00018f")), false},
		{"too short", For("operators", "org-1", "ross"), "AAAA", false},
		{"not base64", For("operators", "org-1", "ross"), "not base64!", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.list.Decode(tc.cursor)
			if tc.ok {
				if err != nil || got != "Rossi\x00Mario\x00018f" {
					t.Errorf("Decode = %q, %v; want the position", got, err)
				}
				return
			}
			var e *errs.Error
			if err == nil || errs.KindOf(err) != errs.Invalid || !asError(err, &e) || len(e.Fields) != 1 || e.Fields[0].Field != "cursor" {
				t.Errorf("Decode = %q, %v; want an invalid cursor field", got, err)
			}
		})
	}
}

func asError(err error, e **errs.Error) bool {
	x, ok := err.(*errs.Error)
	*e = x
	return ok
}

func TestPageOf(t *testing.T) {
	l := For("numbers")
	pos := func(n int) string { return string(rune('a' + n)) }
	for _, tc := range []struct {
		name      string
		items     []int
		limit     int
		wantItems int
		wantNext  bool
	}{
		{"empty", nil, 2, 0, false},
		{"fewer than the limit", []int{1}, 2, 1, false},
		{"exactly the limit", []int{1, 2}, 2, 2, false},
		{"one more: a next page", []int{1, 2, 3}, 2, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := PageOf(tc.items, tc.limit, l, pos)
			if p.Items == nil || len(p.Items) != tc.wantItems || (p.NextCursor != "") != tc.wantNext {
				t.Fatalf("PageOf = %+v, want %d items, next %v", p, tc.wantItems, tc.wantNext)
			}
			if tc.wantNext {
				got, err := l.Decode(p.NextCursor)
				if err != nil || got != pos(tc.items[tc.limit-1]) {
					t.Fatalf("next cursor decodes to %q, %v; want the last item's position", got, err)
				}
			}
		})
	}
}

func TestDecodeName(t *testing.T) {
	l := For("people", "filter")
	id := uuid.Must(uuid.NewV7())
	for _, tc := range []struct {
		name   string
		cursor string
		want   *Name
		ok     bool
	}{
		{"first page", "", nil, true},
		{"a name position", l.Encode(NamePosition("Rossi", "Anna Maria", id)), &Name{FamilyName: "Rossi", GivenName: "Anna Maria", ID: id}, true},
		{"two parts", l.Encode("Rossi\x00" + id.String()), nil, false},
		{"not an id", l.Encode("Rossi\x00Anna\x00x"), nil, false},
		{"another list's", For("people").Encode(NamePosition("Rossi", "Anna", id)), nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := l.DecodeName(tc.cursor)
			if (err == nil) != tc.ok {
				t.Fatalf("DecodeName = %v, %v; want ok %v", got, err, tc.ok)
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("DecodeName (-got +want):\n%s", diff)
			}
		})
	}
}

func TestDecodeID(t *testing.T) {
	l := For("authorizations", "active")
	id := uuid.Must(uuid.NewV7())
	if got, err := l.DecodeID(l.Encode(id.String())); err != nil || got == nil || *got != id {
		t.Errorf("DecodeID(Encode(id)) = %v, %v; want %s", got, err, id)
	}
	if got, err := l.DecodeID(""); err != nil || got != nil {
		t.Errorf("DecodeID(\"\") = %v, %v; want the start of the list", got, err)
	}
	for _, c := range []string{l.Encode("not-an-id"), For("authorizations", "draft").Encode(id.String()), "garbage"} {
		if _, err := l.DecodeID(c); !errs.Is(err, errs.Invalid) {
			t.Errorf("DecodeID(%q) = %v, want an invalid cursor", c, err)
		}
	}
}
