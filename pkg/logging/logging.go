// Package logging builds the slog logger of every service: JSON in clusters, text locally,
// with service and version on every line and a request id when the context has one.
package logging

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/csi-lombardia/csi/pkg/httpapi"
)

// New returns a logger writing to w in format "json" or "text" at the level named
// ("debug", "info", "warn", "error").
func New(w io.Writer, format, level, service, version string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(strings.ToUpper(level)))
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	if format == "text" {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(requestIDHandler{h}).With("service", service, "version", version)
}

// requestIDHandler adds request_id from the context to every record that lacks it.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := httpapi.RequestID(ctx); id != "" {
		has := false
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "request_id" {
				has = true
				return false
			}
			return true
		})
		if !has {
			r.AddAttrs(slog.String("request_id", id))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
