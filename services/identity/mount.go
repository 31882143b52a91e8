package identity

import (
	"context"
	"net/http"
	"time"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/places"
)

// Parts are what the service is composed of: from the configuration in main, from fixtures in
// the tests.
type Parts struct {
	Store  Store
	Places *places.Catalog
	Config Config
	// MasterKey (32 bytes) seals the signing keys in the store; KeyRotation is the age at which
	// the signing key is replaced.
	MasterKey   []byte
	KeyRotation time.Duration
	// Bootstrap, when it names an ambito, is created on the first start (EnsureBootstrap).
	Bootstrap Bootstrap
}

// Mount composes the service on a started App, the one path main and the tests share: the key
// ring (rotated now, then checked every minute by a background job of the App), the audit log,
// the service, the bootstrap ambito, and the routes and the JWKS on the skeleton (app.App.Mount).
// identity verifies its own tokens with its key ring: no JWKS call to itself.
func Mount(ctx context.Context, a *app.App, p Parts) (*Service, http.Handler, error) {
	keys, err := NewKeyRing(p.Store, p.MasterKey, p.KeyRotation, p.Config.AccessTTL+time.Hour)
	if err != nil {
		return nil, nil, err
	}
	if err := keys.Rotate(ctx, time.Now().UTC()); err != nil {
		return nil, nil, err
	}
	auditLog, err := a.OpenAudit(ctx)
	if err != nil {
		return nil, nil, err
	}
	svc := NewService(p.Store, keys, auditLog, p.Places, p.Config, a.Log)
	if p.Bootstrap.AmbitoCode != "" {
		res, err := svc.EnsureBootstrap(ctx, p.Bootstrap)
		if err != nil {
			return nil, nil, err
		}
		if res.Created {
			a.Log.Info("bootstrap: ambito and first administrator created", "ambito", res.Ambito.Code, "admin", res.Admin.Email)
		}
	}
	a.Go(func(ctx context.Context) {
		keys.Run(ctx, time.Minute, func(err error) { a.Log.Error("signing key rotation", "err", err) })
	})
	verifier := auth.NewVerifier(keys, p.Config.Issuer)
	if a.Base.ClockLeeway > 0 {
		verifier.Leeway = a.Base.ClockLeeway
	}
	return svc, a.Mount(app.Wiring{Verifier: verifier, OpenAPI: openAPI, IdempotencyMaxBody: MaxImportBytes,
		Routes: func(mux *httpapi.Mux, idem httpapi.Middleware) {
			Routes(mux, MakeEndpoints(svc), a.Log, idem)
			mux.HandleFunc("GET /.well-known/jwks.json", jwks(keys))
		}}), nil
}
