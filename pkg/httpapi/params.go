package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// NoBody is the go-kit decoder of requests that carry nothing to decode.
func NoBody(context.Context, *http.Request) (any, error) { return nil, nil }

// DecodeBody is the go-kit decoder of a JSON body into a T (strictly, see DecodeJSON).
func DecodeBody[T any](_ context.Context, r *http.Request) (any, error) {
	var v T
	if err := DecodeJSON(r, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// PathID reads the id in the path parameter name (valid.ID).
func PathID(r *http.Request, name string) (uuid.UUID, error) {
	var f errs.Fields
	id, _ := valid.ID(&f, name, r.PathValue(name))
	return id, f.Err()
}

// OptionalID reads an optional id query parameter, recording a field error when malformed
// (valid.ID).
func OptionalID(f *errs.Fields, q url.Values, name string) *uuid.UUID {
	v := q.Get(name)
	if v == "" {
		return nil
	}
	if id, ok := valid.ID(f, name, v); ok {
		return &id
	}
	return nil
}

// IDAndBody reads the id in the path parameter name and the JSON body (DecodeJSON) of a request
// that acts on that resource.
func IDAndBody[B any](r *http.Request, name string) (uuid.UUID, B, error) {
	var body B
	id, err := PathID(r, name)
	if err != nil {
		return id, body, err
	}
	err = DecodeJSON(r, &body) // before body is read: the order within a return list is not specified
	return id, body, err
}

// Patch is a PATCH of a versioned resource: its id, the version If-Match names, the patch.
type Patch[P any] struct {
	ID      uuid.UUID
	Version int64
	Patch   P
}

// DecodePatch is the go-kit decoder of a PATCH of the resource {id}: the id, the version from
// If-Match (IfMatch) and the patch body, into a Patch[P].
func DecodePatch[P any](_ context.Context, r *http.Request) (any, error) {
	id, err := PathID(r, "id")
	if err != nil {
		return nil, err
	}
	v, err := IfMatch(r)
	if err != nil {
		return nil, err
	}
	req := Patch[P]{ID: id, Version: v}
	if err := DecodeJSON(r, &req.Patch); err != nil {
		return nil, err
	}
	return req, nil
}

// ListParams reads the cursor pagination parameters of a list (DESIGN.md "Lists"): limit from 1
// to max (default 50) and an opaque cursor.
func ListParams(q url.Values, max int) (limit int, cursor string, f errs.Fields) {
	limit = 50
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > max {
			f.Add("limit", "must be an integer from 1 to %d", max)
		} else {
			limit = n
		}
	}
	cursor = q.Get("cursor")
	if len(cursor) > 512 {
		f.Add("cursor", "is not a cursor returned by this list")
	}
	return limit, cursor, f
}
