package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/go-kit/kit/endpoint"
	kithttp "github.com/go-kit/kit/transport/http"
)

// NewServer is go-kit's HTTP server with the suite's error encoder and JSON response encoder.
// Responses may implement go-kit's StatusCoder and Headerer to set the status and headers.
func NewServer(log *slog.Logger, e endpoint.Endpoint, dec kithttp.DecodeRequestFunc, opts ...kithttp.ServerOption) *kithttp.Server {
	all := append([]kithttp.ServerOption{kithttp.ServerErrorEncoder(ErrorEncoder(log))}, opts...)
	return kithttp.NewServer(e, dec, EncodeResponse, all...)
}

// EncodeResponse writes a JSON response (go-kit's EncodeJSONResponse) and marks it not
// cacheable by shared caches: it carries personal data. A body already encoded (a
// json.RawMessage, as the response or as the Body of a WithETag: a record served as it was
// cached) is written as it is, not scanned again; it must be compact JSON, as json.Marshal
// writes it, for the answer to be the same.
func EncodeResponse(ctx context.Context, w http.ResponseWriter, response any) error {
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	var raw json.RawMessage
	switch r := response.(type) {
	case json.RawMessage:
		raw = r
	case WithETag:
		raw, _ = r.Body.(json.RawMessage)
	}
	if raw == nil {
		return kithttp.EncodeJSONResponse(ctx, w, response)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	code := http.StatusOK
	if r, ok := response.(WithETag); ok {
		for k, v := range r.Headers() {
			w.Header()[k] = append(w.Header()[k], v...)
		}
		code = r.StatusCode()
	}
	w.WriteHeader(code)
	if _, err := w.Write(raw); err != nil {
		return err
	}
	_, err := w.Write(newline) // as json.Encoder ends a value
	return err
}

var newline = []byte{'\n'}

// Created is a response with status 201 and a Location header.
type Created struct {
	Body     any
	Location string
	ETag     string
}

// StatusCode implements go-kit's StatusCoder.
func (Created) StatusCode() int { return http.StatusCreated }

// Headers implements go-kit's Headerer.
func (c Created) Headers() http.Header {
	h := http.Header{}
	if c.Location != "" {
		h.Set("Location", c.Location)
	}
	if c.ETag != "" {
		h.Set("ETag", c.ETag)
	}
	return h
}

// MarshalJSON encodes the body only.
func (c Created) MarshalJSON() ([]byte, error) { return marshal(c.Body) }

// Accepted is a response with status 202: a job started (an import), its Location the job's.
type Accepted struct {
	Body     any
	Location string
}

// StatusCode implements go-kit's StatusCoder.
func (Accepted) StatusCode() int { return http.StatusAccepted }

// Headers implements go-kit's Headerer.
func (a Accepted) Headers() http.Header { return http.Header{"Location": {a.Location}} }

// MarshalJSON encodes the body only.
func (a Accepted) MarshalJSON() ([]byte, error) { return marshal(a.Body) }

// NoContent is an empty 204 response.
type NoContent struct{}

// StatusCode implements go-kit's StatusCoder.
func (NoContent) StatusCode() int { return http.StatusNoContent }

// WithETag is a 200 response carrying an ETag header (the resource's version).
type WithETag struct {
	Body   any
	ETag   string
	Status int
}

// StatusCode implements go-kit's StatusCoder.
func (r WithETag) StatusCode() int {
	if r.Status == 0 {
		return http.StatusOK
	}
	return r.Status
}

// Headers implements go-kit's Headerer.
func (r WithETag) Headers() http.Header {
	h := http.Header{}
	if r.ETag != "" {
		h.Set("ETag", r.ETag)
	}
	return h
}

// MarshalJSON encodes the body only.
func (r WithETag) MarshalJSON() ([]byte, error) { return marshal(r.Body) }
