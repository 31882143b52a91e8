// Package errs is the small, append-only set of error kinds that every service's domain errors
// carry. pkg/httpapi maps each kind to one HTTP status and an RFC 9457 problem body; adapters
// (PostgreSQL, Redis, peers) translate their driver errors into these kinds at the boundary.
package errs

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind classifies an error for the caller. Append new kinds at the end only.
type Kind uint8

const (
	Internal             Kind = iota // a fault of ours: 500, details never shown
	Invalid                          // the request is malformed or breaks a rule: 400
	NotFound                         // 404
	Conflict                         // the resource exists already or changed state: 409
	Unauthenticated                  // no or bad credentials: 401
	Forbidden                        // authenticated but not allowed: 403
	FailedPrecondition               // the state of the system does not allow it: 409 (or 422 by rule)
	Unavailable                      // a dependency is down; retry later: 503 with Retry-After
	TooManyRequests                  // slowed down: 429 with Retry-After
	PreconditionFailed               // If-Match did not match the current version: 412
	PreconditionRequired             // an update without If-Match: 428
	Unprocessable                    // well-formed but refused, e.g. an Idempotency-Key reused with another body: 422
	TooLarge                         // the body is larger than allowed: 413
	UnsupportedMediaType             // a body without Content-Type or of a media type the operation does not take: 415
)

var kindNames = [...]string{
	Internal:             "internal",
	Invalid:              "invalid",
	NotFound:             "not_found",
	Conflict:             "conflict",
	Unauthenticated:      "unauthenticated",
	Forbidden:            "forbidden",
	FailedPrecondition:   "failed_precondition",
	Unavailable:          "unavailable",
	TooManyRequests:      "too_many_requests",
	PreconditionFailed:   "precondition_failed",
	PreconditionRequired: "precondition_required",
	Unprocessable:        "unprocessable",
	TooLarge:             "too_large",
	UnsupportedMediaType: "unsupported_media_type",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// FieldError names one invalid field of a request, as a JSON pointer-like dotted path
// ("residence.istat_code", "rows[3].email").
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a domain error with a kind, a message safe to show to the caller, optional field
// errors, and an optional cause that is logged but never shown.
type Error struct {
	Kind       Kind
	Message    string
	Fields     []FieldError
	RetryAfter time.Duration // for Unavailable and TooManyRequests
	Extra      map[string]any
	Err        error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an error of a kind with a message shown to the caller.
func E(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Wrap builds an error of a kind around a cause that is logged, not shown.
func Wrap(kind Kind, err error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Err: err}
}

// KindOf reports the kind of the first *Error in err's chain; Internal when there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err carries the given kind.
func Is(err error, kind Kind) bool { return err != nil && KindOf(err) == kind }

// Fields collects field errors; its Err method returns nil when none were added, so validation
// reads as a list of checks followed by one return.
type Fields []FieldError

// Add records a field error.
func (f *Fields) Add(field, format string, args ...any) {
	*f = append(*f, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Check records a field error when ok is false.
func (f *Fields) Check(ok bool, field, format string, args ...any) {
	if !ok {
		f.Add(field, format, args...)
	}
}

// Prefix returns the errors with every field name prefixed ("rows[3]." + field).
func (f Fields) Prefix(p string) Fields {
	out := make(Fields, len(f))
	for i, fe := range f {
		out[i] = FieldError{Field: p + fe.Field, Message: fe.Message}
	}
	return out
}

// Err returns an Invalid error listing the fields, or nil when there are none.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Kind: Invalid, Message: "the request has invalid fields", Fields: []FieldError(f)}
}

// Invalid is a shorthand for one invalid field.
func InvalidField(field, format string, args ...any) *Error {
	return &Error{Kind: Invalid, Message: "the request has invalid fields",
		Fields: []FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}
