package servicetest

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/openapitest"
)

// FuzzRoutes runs a service's real routes and decoders (its Routes function) with every
// endpoint of E stubbed, on any body for any operation of the contract doc that takes one
// (openapitest.FuzzDecoders, with query, headers and seeds): no panic, never a 5xx.
func FuzzRoutes[E any](f *testing.F, doc []byte, routes func(*httpapi.Mux, E, *slog.Logger, httpapi.Middleware), query string,
	headers http.Header, seeds ...string) {
	var e E
	openapitest.StubEndpoints(&e)
	mux := httpapi.NewMux()
	routes(mux, e, slog.New(slog.DiscardHandler), func(h http.Handler) http.Handler { return h })
	openapitest.FuzzDecoders(f, doc, mux, query, headers, seeds...)
}
