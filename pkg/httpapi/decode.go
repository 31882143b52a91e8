package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// MaxBodyBytes is the default limit of a JSON request body.
const MaxBodyBytes = 1 << 20

// DecodeJSON reads a JSON request body into dst with the default size limit.
func DecodeJSON(r *http.Request, dst any) error { return DecodeJSONLimit(r, dst, MaxBodyBytes) }

// DecodeJSONLimit reads exactly one JSON value into dst. It refuses a body without
// Content-Type or of a media type other than application/json (or +json) with a 415 naming
// the Content-Type header, and a body over limit bytes, invalid UTF-8, syntax errors, a member
// repeated in an object, an escaped unpaired UTF-16 surrogate, unknown fields, wrong types and
// trailing data, each as a 400 problem naming the field ("body" when the whole body is at
// fault).
func DecodeJSONLimit(r *http.Request, dst any, limit int64) error {
	if _, err := RequireMediaType(r, "application/json"); err != nil {
		return err
	}
	if r.Body == nil {
		return errs.InvalidField("body", "is empty; a JSON object is required")
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			// 400 rather than 413: the roadmap asks every bad body to be a 400 naming the field.
			return errs.InvalidField("body", "is larger than %d bytes", limit)
		}
		return errs.InvalidField("body", "could not be read")
	}
	return Unmarshal(body, dst)
}

// Unmarshal decodes one JSON value strictly (see DecodeJSONLimit; the content type aside).
func Unmarshal(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errs.InvalidField("body", "is empty; a JSON object is required")
	}
	if !utf8.Valid(body) {
		return errs.InvalidField("body", "is not valid UTF-8")
	}
	if err := checkMembers(body); err != nil {
		return err
	}
	if err := refuseNUL(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return errs.InvalidField("body", "holds more than one JSON value")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return errs.InvalidField("body", "holds data after the JSON value")
	}
	return nil
}

// MediaType returns the media type of the request's Content-Type, in lower case without its
// parameters; "" when there is none.
func MediaType(r *http.Request) string {
	mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// RequireMediaType checks that the request's body is of one of the media types an operation
// takes ("application/json" admits any "+json" type too) and returns the one sent, as
// MediaType gives it. A body without Content-Type or of another type is an
// errs.UnsupportedMediaType error (415) naming the Content-Type header.
func RequireMediaType(r *http.Request, accepted ...string) (string, error) {
	mt := MediaType(r)
	for _, a := range accepted {
		if mt == a || a == "application/json" && strings.HasSuffix(mt, "+json") && len(mt) > len("+json") {
			return mt, nil
		}
	}
	want := strings.Join(accepted, " or ")
	e := &errs.Error{Kind: errs.UnsupportedMediaType, Message: "the request body is of a media type this operation does not take"}
	if mt == "" {
		e.Fields = []errs.FieldError{{Field: "Content-Type", Message: "is missing; send the body as " + want}}
	} else {
		e.Fields = []errs.FieldError{{Field: "Content-Type", Message: fmt.Sprintf("must be %s, not %q", want, mt)}}
	}
	return "", e
}

// DecodeForm reads an application/x-www-form-urlencoded body of at most limit bytes strictly
// (see ParseForm), every value single-line text (CheckForm); another content type is a 415 as
// for RequireMediaType.
func DecodeForm(r *http.Request, limit int64) (url.Values, error) {
	if _, err := RequireMediaType(r, "application/x-www-form-urlencoded"); err != nil {
		return nil, err
	}
	if r.Body == nil {
		return ParseForm(nil)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errs.InvalidField("body", "is larger than %d bytes", limit)
		}
		return nil, errs.InvalidField("body", "could not be read")
	}
	v, err := ParseForm(body)
	if err != nil {
		return nil, err
	}
	return v, CheckForm(v)
}

// ParseForm parses a form-encoded body strictly: malformed encoding is a 400 naming "body", a
// field given more than once (url.ParseQuery keeps them all and Get takes the first) and a
// name or value that is not UTF-8 text without NUL characters are a 400 naming the field.
// Every field of the result has exactly one value.
func ParseForm(body []byte) (url.Values, error) {
	v := url.Values{}
	for rest := string(body); rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		if pair == "" {
			continue
		}
		if strings.Contains(pair, ";") {
			return nil, errs.InvalidField("body", "is not form-encoded: fields are separated by \"&\", not \";\"")
		}
		k, x, _ := strings.Cut(pair, "=")
		name, err1 := url.QueryUnescape(k)
		value, err2 := url.QueryUnescape(x)
		if err1 != nil || err2 != nil {
			return nil, errs.InvalidField("body", "is not form-encoded")
		}
		if !isText(name) {
			return nil, errs.InvalidField("body", "holds a field name that is not UTF-8 text without NUL characters")
		}
		if _, dup := v[name]; dup {
			return nil, errs.InvalidField(name, "is given more than once; a field may appear once")
		}
		if !isText(value) {
			return nil, errs.InvalidField(name, "must be valid UTF-8 text without NUL characters")
		}
		v[name] = []string{value}
	}
	return v, nil
}

// isText reports whether s is valid UTF-8 without NUL characters.
func isText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return errs.InvalidField("body", "malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return errs.InvalidField(field, "must be %s, not %s", jsonType(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errs.InvalidField("body", "malformed JSON: unexpected end")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		if name == "" {
			name = "body"
		}
		return errs.InvalidField(name, "is not a known field")
	}
	// A field's own UnmarshalJSON (dates, enums) reports a FieldError-carrying *errs.Error.
	var e *errs.Error
	if errors.As(err, &e) {
		return e
	}
	return errs.InvalidField("body", "malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer in range"
	case "float32", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return "of another type"
}
