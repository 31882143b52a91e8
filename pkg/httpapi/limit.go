package httpapi

import (
	"net/http"
	"time"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// errAtCapacity is the answer to a request beyond the limit of InFlight.
var errAtCapacity = &errs.Error{Kind: errs.Unavailable, Message: "the service is at capacity: retry shortly", RetryAfter: time.Second}

// InFlight bounds the requests served at once to max (0 or less: no bound): one more is
// answered 503 with Retry-After at once, before anything is read or authenticated, so that an
// overload costs a short answer instead of memory and latency for every request queued behind
// it. Health and metrics are always served (a probe must see the process, not its load).
func InFlight(max int) Middleware {
	return func(next http.Handler) http.Handler {
		if max <= 0 {
			return next
		}
		slots := make(chan struct{}, max)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/healthz", "/readyz", "/metrics":
				next.ServeHTTP(w, r)
				return
			}
			select {
			case slots <- struct{}{}:
			default:
				// Not logged: under overload a line per refusal would cost what the bound saves;
				// the metrics count the 503s.
				WriteProblem(r.Context(), nil, w, r, errAtCapacity)
				return
			}
			defer func() { <-slots }()
			next.ServeHTTP(w, r)
		})
	}
}
