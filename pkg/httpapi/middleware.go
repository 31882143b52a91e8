package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/csi-lombardia/csi/pkg/errs"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	requestKey
	routeKey
)

// routeInfo is filled by the Mux with the pattern that matched, so that middlewares outside the
// mux (metrics, access log) can label by route template: the mux sets Request.Pattern only on
// the request value it was handed.
type routeInfo struct{ pattern string }

// RequestIDHeader carries the request id in and out.
const RequestIDHeader = "X-Request-Id"

// RequestID returns the request id stored in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// WithRequestID returns a context carrying id (for work started outside a request).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

func requestFrom(ctx context.Context) *http.Request {
	r, _ := ctx.Value(requestKey).(*http.Request)
	return r
}

// NewRequestID returns a random 128-bit id in hex.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// Chain applies middlewares so that the first is outermost.
func Chain(h http.Handler, mws ...Middleware) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// RequestIDs takes a well-formed X-Request-Id from the caller or makes one, puts it in the
// context and echoes it in the response.
func RequestIDs() Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get(RequestIDHeader)
			if !validRequestID(id) {
				id = NewRequestID()
			}
			w.Header().Set(RequestIDHeader, id)
			ctx := context.WithValue(r.Context(), requestIDKey, id)
			ctx = context.WithValue(ctx, requestKey, r)
			ctx = context.WithValue(ctx, routeKey, &routeInfo{})
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// Recover answers a panic with a 500 problem that shows nothing of it, and logs the panic with
// its stack. http.ErrAbortHandler is re-raised, as net/http expects.
func Recover(log *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sw := &statusWriter{ResponseWriter: w}
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				if log != nil {
					log.ErrorContext(r.Context(), "panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()),
						"request_id", RequestID(r.Context()))
				}
				if !sw.wrote {
					WriteProblem(r.Context(), nil, w, r, errs.E(errs.Internal, "panic"))
				}
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

// AccessLog logs one line per request at debug level, and at warn for 5xx.
func AccessLog(log *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r)
			level := slog.LevelDebug
			if sw.Status() >= 500 {
				level = slog.LevelWarn
			}
			log.Log(r.Context(), level, "request", "method", r.Method, "route", Route(r), "status", sw.Status(),
				"duration", time.Since(start), "request_id", RequestID(r.Context()))
		})
	}
}

// Route is the route template that served r ("GET /v1/operators/{id}"), or "unmatched".
// It is valid after a Mux has routed the request, in any middleware under RequestIDs.
func Route(r *http.Request) string {
	if ri, ok := r.Context().Value(routeKey).(*routeInfo); ok && ri.pattern != "" {
		return ri.pattern
	}
	if r.Pattern != "" {
		return r.Pattern
	}
	return "unmatched"
}

// Mux is an http.ServeMux that records the matched pattern for Route.
type Mux struct{ *http.ServeMux }

// NewMux returns an empty Mux.
func NewMux() *Mux { return &Mux{http.NewServeMux()} }

// ServeHTTP refuses a path that is not in canonical form (CanonicalPaths), which
// http.ServeMux would answer with a redirect to the cleaned path, and routes the others.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := checkPath(r.URL.Path); err != nil {
		WriteProblem(r.Context(), nil, w, r, err)
		return
	}
	m.ServeMux.ServeHTTP(w, r)
}

// CanonicalPaths answers a request whose path holds a "." or ".." segment or an empty one
// ("//"), however escaped ("%2e%2e", "%2F"), with a 400 problem naming "path": http.ServeMux
// would answer 301 to the cleaned path, letting a client reach a route by a path that is not
// its own. A trailing slash is left to the routes. The Mux does the same; this middleware lets
// a chain refuse such paths before it authenticates (so /healthz and the other open paths get
// the same answer).
func CanonicalPaths() Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := checkPath(r.URL.Path); err != nil {
				WriteProblem(r.Context(), nil, w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// checkPath refuses a decoded path (URL.Path) with a ".", ".." or empty segment before its
// last one. One pass over the bytes, no allocation for a canonical path.
func checkPath(p string) error {
	if p == "" || p[0] != '/' {
		return nil // "*" of OPTIONS, an authority of CONNECT: not ServeMux's to clean
	}
	start := 1 // of the current segment
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		seg := p[start:i]
		if seg == "." || seg == ".." || seg == "" && i < len(p) {
			return errs.InvalidField("path", "must not hold empty, \".\" or \"..\" segments; send the path of the resource as it is documented")
		}
		start = i + 1
	}
	return nil
}

// Handle registers h for pattern ("GET /v1/operators/{id}").
func (m *Mux) Handle(pattern string, h http.Handler) {
	m.ServeMux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ri, ok := r.Context().Value(routeKey).(*routeInfo); ok {
			ri.pattern = r.Pattern
		}
		if err := checkText(r); err != nil {
			WriteProblem(r.Context(), nil, w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// checkText refuses path and query parameters that are not text: invalid UTF-8 or a NUL
// character, which no field of the suite holds and PostgreSQL refuses in a text value (a 500
// where a 400 is due); and query parameters with any other control character (checkValues):
// every query parameter is single-line.
func checkText(r *http.Request) error {
	var f errs.Fields
	bad := func(s string) bool { return !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 }
	checkValues(&f, r.URL.Query(), "query")
	for rest := r.Pattern; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			break
		}
		name := strings.TrimSuffix(rest[i+1:i+j], "...")
		if bad(r.PathValue(name)) {
			f.Add(name, "must be valid UTF-8 text without NUL characters")
		}
		rest = rest[i+j:]
	}
	return f.Err()
}

// HandleFunc registers f for pattern.
func (m *Mux) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(f))
}

// statusWriter records the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Status() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// NewStatusWriter wraps w to record the status (for metrics middleware).
func NewStatusWriter(w http.ResponseWriter) interface {
	http.ResponseWriter
	Status() int
} {
	return &statusWriter{ResponseWriter: w}
}
