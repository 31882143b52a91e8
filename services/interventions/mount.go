package interventions

import (
	"context"
	"errors"
	"net/http"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cache"
	"github.com/csi-lombardia/csi/pkg/docstore"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/places"
)

// Parts are what the service is composed of: from the configuration in main, from fixtures in
// the tests.
type Parts struct {
	Store    Store
	Identity Identity
	Registry Registry
	Cache    cache.Cache
	Places   *places.Catalog
	Config   Config
	Verifier *auth.Verifier
	// Documents keeps the authorizations' documents (an S3 bucket, or a directory whose links
	// the service serves at DownloadPath).
	Documents *docstore.Documents
}

// Mount composes the service on a started App, the one path main and the tests share: the audit
// log, the service, and its routes on the skeleton (app.App.Mount).
func Mount(ctx context.Context, a *app.App, p Parts) (*Service, http.Handler, error) {
	if p.Documents == nil {
		return nil, nil, errors.New("interventions: no document store (Parts.Documents)")
	}
	auditLog, err := a.OpenAudit(ctx)
	if err != nil {
		return nil, nil, err
	}
	svc := NewService(p.Store, p.Identity, p.Cache, auditLog, p.Places, p.Config, a.Log)
	svc.registry = p.Registry
	svc.docs = p.Documents
	h := a.Mount(app.Wiring{Verifier: p.Verifier, OpenAPI: openAPI, IdempotencyMaxBody: max(p.Documents.MaxBytes()+uploadOverhead, maxBatchBytes),
		Routes: func(mux *httpapi.Mux, idem httpapi.Middleware) {
			Routes(mux, MakeEndpoints(svc), a.Log, idem)
		}})
	return svc, withDownloads(h, p.Documents.Handler(a.Log)), nil
}

// withDownloads serves the signed links of a directory store at DownloadPath (a link carries its
// own signature, not a token) and everything else with h.
func withDownloads(h, downloads http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == DownloadPath {
			downloads.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}
