package interventions

import (
	"context"
	"net/http"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cache"
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
}

// Mount composes the service on a started App, the one path main and the tests share: the audit
// log, the service, and its routes on the skeleton (app.App.Mount).
func Mount(ctx context.Context, a *app.App, p Parts) (*Service, http.Handler, error) {
	auditLog, err := a.OpenAudit(ctx)
	if err != nil {
		return nil, nil, err
	}
	svc := NewService(p.Store, p.Identity, p.Cache, auditLog, p.Places, p.Config, a.Log)
	svc.registry = p.Registry
	return svc, a.Mount(app.Wiring{Verifier: p.Verifier, OpenAPI: openAPI, Routes: func(mux *httpapi.Mux, idem httpapi.Middleware) {
		Routes(mux, MakeEndpoints(svc), a.Log, idem)
	}}), nil
}
