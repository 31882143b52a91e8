package httpapi

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// checkMembers scans the first JSON value of b, in one pass over the bytes, for what
// encoding/json accepts silently and the suite refuses, each as a field error with the dotted
// path of errs.FieldError ("members[1].name"):
//
//   - a member repeated in an object, where encoding/json keeps the last one. Names are
//     compared after unescaping and without regard to case, as encoding/json matches struct
//     fields ("name", "\u006eame" and "NAME" fill the same field);
//   - an escaped UTF-16 surrogate that is not half of a pair ("\ud800", "\udc00x", a high
//     surrogate not followed by a low one), which encoding/json turns into U+FFFD.
//
// Anything else it does not understand (a syntax error, nesting deeper than encoding/json
// allows) ends the scan without an error: the decoder that runs next reports it. b must be
// valid UTF-8.
func checkMembers(b []byte) error {
	buf := new(struct {
		path  [8]pathSegment
		names [32][]byte
	}) // one allocation for a typical body
	s := memberScanner{b: b, path: buf.path[:0], names: buf.names[:0]}
	if err := s.value(0); err != nil && err != errStopScan {
		return err
	}
	return nil
}

// errStopScan ends a scan at input the decoder will refuse anyway.
var errStopScan = errors.New("stop")

// maxScanDepth is encoding/json's own nesting limit.
const maxScanDepth = 10000

// smallObject is the number of members up to which an object's names are compared one by
// one; a larger object gets a set, so a body of many members stays linear.
const smallObject = 16

// pathSegment is a member name (index < 0) or an array index.
type pathSegment struct {
	name  []byte
	index int
}

type memberScanner struct {
	b     []byte
	i     int
	path  []pathSegment
	names [][]byte // the member names of the open objects, innermost last
}

func (s *memberScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *memberScanner) value(depth int) error {
	s.space()
	if s.i >= len(s.b) {
		return errStopScan
	}
	switch s.b[s.i] {
	case '{':
		return s.object(depth + 1)
	case '[':
		return s.array(depth + 1)
	case '"':
		_, err := s.str(false)
		return err
	}
	// A number or a literal: the decoder checks its spelling.
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '+' || c == '.') {
			break
		}
		s.i++
	}
	if s.i == start {
		return errStopScan
	}
	return nil
}

func (s *memberScanner) object(depth int) error {
	if depth > maxScanDepth {
		return errStopScan
	}
	s.i++ // {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	first := len(s.names)
	var set map[string]struct{} // the folded names, once the object is large
	for {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return errStopScan
		}
		name, err := s.str(true)
		if err != nil {
			return err
		}
		if set == nil {
			for _, prev := range s.names[first:] {
				if equalName(prev, name) {
					return s.repeated(prev, name)
				}
			}
			s.names = append(s.names, name)
			if len(s.names)-first > smallObject {
				set = make(map[string]struct{}, 2*smallObject)
				for _, n := range s.names[first:] {
					set[foldName(n)] = struct{}{}
				}
			}
		} else {
			k := foldName(name)
			if _, dup := set[k]; dup {
				for _, prev := range s.names[first:] {
					if equalName(prev, name) {
						return s.repeated(prev, name)
					}
				}
			}
			set[k] = struct{}{}
			s.names = append(s.names, name)
		}
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return errStopScan
		}
		s.i++
		last, err := s.element(pathSegment{name: name, index: -1}, depth, '}')
		if err != nil {
			return err
		}
		if last {
			s.names = s.names[:first]
			return nil
		}
	}
}

// element scans one member value or array element under seg and what follows it: a comma
// (last false) or the closing byte (last true, consumed).
func (s *memberScanner) element(seg pathSegment, depth int, closing byte) (last bool, err error) {
	s.path = append(s.path, seg)
	if err := s.value(depth); err != nil {
		return false, err
	}
	s.path = s.path[:len(s.path)-1]
	s.space()
	if s.i >= len(s.b) {
		return false, errStopScan
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		return false, nil
	case closing:
		s.i++
		return true, nil
	}
	return false, errStopScan
}

func (s *memberScanner) array(depth int) error {
	if depth > maxScanDepth {
		return errStopScan
	}
	s.i++ // [
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for n := 0; ; n++ {
		last, err := s.element(pathSegment{index: n}, depth, ']')
		if err != nil || last {
			return err
		}
	}
}

// str scans the string at s.i. For a member name (name true) it returns the name unescaped:
// a slice of the body when it has no escapes, a copy otherwise.
func (s *memberScanner) str(name bool) ([]byte, error) {
	s.i++ // "
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], nil
		case c == '\\':
			return s.escaped(start, name)
		case c < 0x20:
			return nil, errStopScan
		}
		s.i++
	}
	return nil, errStopScan
}

// escaped goes on with a string from its first backslash at s.i.
func (s *memberScanner) escaped(start int, name bool) ([]byte, error) {
	var out []byte
	if name {
		out = append(out, s.b[start:s.i]...)
	}
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return out, nil
		case c < 0x20:
			return nil, errStopScan
		case c != '\\':
			if name {
				out = append(out, c)
			}
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			return nil, errStopScan
		}
		e := s.b[s.i+1]
		if e != 'u' {
			r := unescape(e)
			if r == 0 {
				return nil, errStopScan
			}
			if name {
				out = append(out, r)
			}
			s.i += 2
			continue
		}
		r, ok := hex4(s.b, s.i+2)
		if !ok {
			return nil, errStopScan
		}
		s.i += 6
		switch {
		case r >= 0xdc00 && r <= 0xdfff:
			return nil, s.surrogate(name, s.b[s.i-6:s.i])
		case r >= 0xd800 && r <= 0xdbff:
			lo, ok := rune(0), false
			if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
				lo, ok = hex4(s.b, s.i+2)
			}
			if !ok || lo < 0xdc00 || lo > 0xdfff {
				return nil, s.surrogate(name, s.b[s.i-6:s.i])
			}
			s.i += 6
			r = utf16.DecodeRune(r, lo)
		}
		if name {
			out = utf8.AppendRune(out, r)
		}
	}
	return nil, errStopScan
}

// unescape returns the byte of a one-letter escape, 0 for none.
func unescape(e byte) byte {
	switch e {
	case '"', '\\', '/':
		return e
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return 0
}

// hex4 reads the four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// equalName reports whether two member names fill the same field for encoding/json.
func equalName(a, b []byte) bool {
	if len(a) == len(b) && string(a) == string(b) {
		return true
	}
	return strings.EqualFold(string(a), string(b))
}

// foldName is a key equal for names equalName finds equal: every rune replaced by the
// smallest of its case-folding orbit.
func foldName(n []byte) string {
	out := make([]byte, 0, len(n))
	for _, r := range string(n) {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		out = utf8.AppendRune(out, m)
	}
	return string(out)
}

// field is the dotted path of the current position, then name when given; "body" at the root.
func (s *memberScanner) field(name []byte) string {
	var b strings.Builder
	for _, seg := range s.path {
		if seg.index >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(seg.index))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.Write(seg.name)
	}
	if name != nil {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.Write(name)
	}
	if b.Len() == 0 {
		return "body"
	}
	return b.String()
}

func (s *memberScanner) repeated(prev, name []byte) error {
	if string(prev) == string(name) {
		return errs.InvalidField(s.field(name), "is given more than once; a member may appear once in an object")
	}
	return errs.InvalidField(s.field(name), "is given more than once (also as %q; member names are matched without regard to case)", prev)
}

func (s *memberScanner) surrogate(name bool, escape []byte) error {
	if name {
		return errs.InvalidField(s.field(nil), "has a member name holding %s, a UTF-16 surrogate that is not half of a pair", escape)
	}
	return errs.InvalidField(s.field(nil), "holds %s, a UTF-16 surrogate that is not half of a pair", escape)
}
