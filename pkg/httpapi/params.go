package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/errs"
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

// ParseID reads an id, failing with a field error naming field.
func ParseID(s, field string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, errs.InvalidField(field, "is not an id")
	}
	return id, nil
}

// PathID reads the id in the path parameter name.
func PathID(r *http.Request, name string) (uuid.UUID, error) { return ParseID(r.PathValue(name), name) }

// OptionalID reads an optional id query parameter, recording a field error when malformed.
func OptionalID(f *errs.Fields, q url.Values, name string) *uuid.UUID {
	v := q.Get(name)
	if v == "" {
		return nil
	}
	id, err := uuid.Parse(v)
	if err != nil {
		f.Add(name, "is not an id")
		return nil
	}
	return &id
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
