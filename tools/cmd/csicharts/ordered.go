package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// A JSON value that keeps the order of object members, so that a composed schema reads in the
// order its parts were written in (and in the order of values.yaml): object, []any, string,
// json.Number, bool or nil.
type object []member

type member struct {
	key   string
	value any
}

// get returns the value of a member and whether there is one.
func (o object) get(key string) (any, bool) {
	for _, m := range o {
		if m.key == key {
			return m.value, true
		}
	}
	return nil, false
}

// set replaces a member's value, or appends the member.
func (o object) set(key string, v any) object {
	for i, m := range o {
		if m.key == key {
			o[i].value = v
			return o
		}
	}
	return append(o, member{key, v})
}

// decodeJSON parses one JSON value (objects as object, numbers as json.Number).
func decodeJSON(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	v, err := decodeValue(d)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("data after the JSON value (offset %d)", d.InputOffset())
	}
	return v, nil
}

func decodeValue(d *json.Decoder) (any, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		o := object{}
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return nil, err
			}
			key := k.(string)
			if _, dup := o.get(key); dup {
				return nil, fmt.Errorf("member %q repeated (offset %d)", key, d.InputOffset())
			}
			v, err := decodeValue(d)
			if err != nil {
				return nil, err
			}
			o = append(o, member{key, v})
		}
		_, err := d.Token() // }
		return o, err
	case json.Delim('['):
		a := []any{}
		for d.More() {
			v, err := decodeValue(d)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := d.Token() // ]
		return a, err
	}
	return tok, nil
}

// encodeJSON writes v indented by two spaces, one member or element a line, as
// json.MarshalIndent does (but without escaping <, > and &), with a final newline.
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := encodeValue(&b, v, ""); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

func encodeValue(b *bytes.Buffer, v any, indent string) error {
	inner := indent + "  "
	switch v := v.(type) {
	case object:
		if len(v) == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteString("{\n")
		for i, m := range v {
			b.WriteString(inner)
			if err := encodeScalar(b, m.key); err != nil {
				return err
			}
			b.WriteString(": ")
			if err := encodeValue(b, m.value, inner); err != nil {
				return err
			}
			if i < len(v)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case []any:
		if len(v) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteString("[\n")
		for i, e := range v {
			b.WriteString(inner)
			if err := encodeValue(b, e, inner); err != nil {
				return err
			}
			if i < len(v)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	default:
		return encodeScalar(b, v)
	}
	return nil
}

func encodeScalar(b *bytes.Buffer, v any) error {
	switch v.(type) {
	case string, json.Number, bool, nil:
	default:
		return fmt.Errorf("cannot encode %T", v)
	}
	var s strings.Builder
	e := json.NewEncoder(&s)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return err
	}
	b.WriteString(strings.TrimSuffix(s.String(), "\n"))
	return nil
}

// merge adds additions to base and returns the result (base is not changed): members of both
// objects are merged, members new in additions come after base's, in additions' order; the
// elements of an array in additions that base's array lacks are appended to it (for required
// and enum); any other value in additions must equal base's. Additions add, never change.
func merge(base, additions any, path string) (any, error) {
	switch a := additions.(type) {
	case object:
		b, ok := base.(object)
		if !ok {
			return nil, fmt.Errorf("%s: an object in the additions, %s in the base", pathOr(path), kind(base))
		}
		out := append(object{}, b...)
		for _, m := range a {
			if bv, ok := b.get(m.key); ok {
				v, err := merge(bv, m.value, path+"/"+m.key)
				if err != nil {
					return nil, err
				}
				out = out.set(m.key, v)
			} else {
				out = append(out, member{m.key, m.value})
			}
		}
		return out, nil
	case []any:
		b, ok := base.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: an array in the additions, %s in the base", pathOr(path), kind(base))
		}
		out := append([]any{}, b...)
		for _, e := range a {
			if !containsJSON(out, e) {
				out = append(out, e)
			}
		}
		return out, nil
	default:
		if !reflect.DeepEqual(base, additions) {
			return nil, fmt.Errorf("%s: the additions change %v to %v (they may only add)", pathOr(path), base, additions)
		}
		return base, nil
	}
}

func containsJSON(list []any, v any) bool {
	for _, e := range list {
		if reflect.DeepEqual(e, v) {
			return true
		}
	}
	return false
}

func kind(v any) string {
	switch v.(type) {
	case object:
		return "an object"
	case []any:
		return "an array"
	default:
		return fmt.Sprintf("the value %v", v)
	}
}

func pathOr(p string) string {
	if p == "" {
		return "/"
	}
	return p
}
