package registry

import (
	"context"
	"net/http"
	"time"

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
	Cache    cache.Cache
	Places   *places.Catalog
	Config   Config
	Verifier *auth.Verifier
}

// Mount composes the service on a started App, the one path main and the tests share: the audit
// log, the service (its import workers stop with the App's background jobs, before the audit log
// and the pool close), the imports a stop interrupted (ResumeImports), and its routes on the
// skeleton (app.App.Mount).
func Mount(ctx context.Context, a *app.App, p Parts) (*Service, http.Handler, error) {
	auditLog, err := a.OpenAudit(ctx)
	if err != nil {
		return nil, nil, err
	}
	svc := NewService(p.Store, auditLog, p.Places, p.Cache, p.Config, a.Log)
	a.Go(func(ctx context.Context) {
		<-ctx.Done()
		svc.Close()
	})
	a.Eventually(ctx, "resuming interrupted imports", 10*time.Second, svc.ResumeImports)
	return svc, a.Mount(app.Wiring{Verifier: p.Verifier, OpenAPI: openAPI, Routes: func(mux *httpapi.Mux, idem httpapi.Middleware) {
		Routes(mux, MakeEndpoints(svc), a.Log, idem)
	}}), nil
}
