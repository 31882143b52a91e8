package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// MaxBodyBytes is the default limit of a JSON request body.
const MaxBodyBytes = 1 << 20

// DecodeJSON reads a JSON request body into dst with the default size limit.
func DecodeJSON(r *http.Request, dst any) error { return DecodeJSONLimit(r, dst, MaxBodyBytes) }

// DecodeJSONLimit reads exactly one JSON value into dst. It refuses a wrong content type, a body
// over limit bytes, invalid UTF-8, syntax errors, unknown fields, wrong types and trailing data,
// each as a problem naming the field ("body" when the whole body is at fault).
func DecodeJSONLimit(r *http.Request, dst any, limit int64) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := strings.Cut(ct, ";")
		mt = strings.TrimSpace(strings.ToLower(mt))
		if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			return errs.InvalidField("body", "content type must be application/json, not %q", mt)
		}
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

// Unmarshal decodes one JSON value strictly (see DecodeJSONLimit).
func Unmarshal(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errs.InvalidField("body", "is empty; a JSON object is required")
	}
	if !utf8.Valid(body) {
		return errs.InvalidField("body", "is not valid UTF-8")
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
