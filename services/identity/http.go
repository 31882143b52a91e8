package identity

import (
	"context"
	_ "embed"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/valid"
)

//go:embed api/openapi.yaml
var openAPI []byte

// OpenAPI returns the service's OpenAPI 3.1 document.
func OpenAPI() []byte { return openAPI }

// Routes registers the service's routes on mux. idem wraps the POSTs that machine clients
// retry (Idempotency-Key).
func Routes(mux *httpapi.Mux, e Endpoints, log *slog.Logger, idem httpapi.Middleware) {
	srv := func(ep func(context.Context, any) (any, error), dec kithttp.DecodeRequestFunc) http.Handler {
		return httpapi.NewServer(log, ep, dec)
	}
	mux.Handle("POST /v1/oauth/token", srv(e.Token, decodeToken))
	mux.Handle("POST /v1/oauth/revoke", srv(e.Revoke, decodeRevoke))
	mux.Handle("GET /v1/me", srv(e.Me, httpapi.NoBody))
	mux.Handle("POST /v1/me/password", srv(e.SetOwnPassword, httpapi.DecodeBody[passwordRequest]))

	mux.Handle("GET /v1/ambiti", srv(e.ListAmbiti, httpapi.NoBody))
	mux.Handle("GET /v1/ambiti/{id}", srv(e.GetAmbito, decodeID))

	mux.Handle("POST /v1/organizations", idem(srv(e.CreateOrganization, httpapi.DecodeBody[OrganizationInput])))
	mux.Handle("GET /v1/organizations", srv(e.ListOrganizations, decodeListOrgs))
	mux.Handle("GET /v1/organizations/{id}", srv(e.GetOrganization, decodeID))
	mux.Handle("PATCH /v1/organizations/{id}", srv(e.UpdateOrganization, httpapi.DecodePatch[OrganizationPatch]))

	mux.Handle("POST /v1/operators", idem(srv(e.CreateOperator, httpapi.DecodeBody[OperatorInput])))
	mux.Handle("GET /v1/operators", srv(e.ListOperators, decodeListOperators))
	mux.Handle("POST /v1/operators:import", idem(srv(e.ImportOperators, decodeImport)))
	mux.Handle("GET /v1/operators/{id}", srv(e.GetOperator, decodeID))
	mux.Handle("PATCH /v1/operators/{id}", srv(e.UpdateOperator, httpapi.DecodePatch[OperatorPatch]))
	mux.Handle("POST /v1/operators/{id}/profiles", srv(e.AddProfile, decodeAddProfile))
	mux.Handle("DELETE /v1/operators/{id}/profiles/{profile_id}", srv(e.EndProfile, decodeEndProfile))
	mux.Handle("POST /v1/operators/{id}/password", srv(e.SetOperatorPassword, decodeSetPassword))

	mux.Handle("POST /v1/accreditations", idem(srv(e.CreateAccreditation, httpapi.DecodeBody[AccreditationInput])))
	mux.Handle("GET /v1/accreditations", srv(e.ListAccreditations, decodeListAccreditations))
	mux.Handle("GET /v1/accreditations/{id}", srv(e.GetAccreditation, decodeID))
	mux.Handle("PATCH /v1/accreditations/{id}", srv(e.UpdateAccreditation, httpapi.DecodePatch[AccreditationPatch]))

	mux.Handle("POST /v1/clients", idem(srv(e.CreateClient, httpapi.DecodeBody[ClientInput])))
	mux.Handle("GET /v1/clients", srv(e.ListClients, httpapi.NoBody))
	mux.Handle("POST /v1/clients/{id}/secret", srv(e.RotateClientSecret, decodeID))
	mux.Handle("DELETE /v1/clients/{id}", srv(e.DisableClient, decodeID))

	mux.Handle("GET /v1/audit", srv(e.AuditTrail, decodeAudit))
}

// jwks serves the published signing keys (DESIGN.md "Identity").
func jwks(keys *KeyRing) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age=60")
		_ = json.NewEncoder(w).Encode(auth.JWKSDocument(keys.Public()))
	}
}

func decodeAudit(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, cursor, f := httpapi.ListParams(q, 500)
	aq := AuditQuery{ActorID: q.Get("actor_id"), Limit: limit, Cursor: cursor}
	for name, dst := range map[string]*time.Time{"from": &aq.From, "to": &aq.To} {
		if v := q.Get(name); v != "" {
			*dst, _ = valid.Time(&f, name, v, valid.Suite)
		}
	}
	if len(aq.ActorID) > 200 {
		f.Add("actor_id", "is too long")
	}
	return aq, f.Err()
}

func decodeID(_ context.Context, r *http.Request) (any, error) {
	id, err := httpapi.PathID(r, "id")
	return idRequest{ID: id}, err
}

func decodeListOrgs(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, cursor, f := httpapi.ListParams(q, 500)
	return listOrgRequest{Kind: OrgKind(q.Get("kind")), Limit: limit, Cursor: cursor}, f.Err()
}

func decodeListOperators(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, cursor, f := httpapi.ListParams(q, 500)
	org := httpapi.OptionalID(&f, q, "organization_id")
	if len(q.Get("q")) > 100 {
		f.Add("q", "must be at most 100 characters")
	}
	return OperatorQuery{OrganizationID: org, Query: q.Get("q"), Limit: limit, Cursor: cursor}, f.Err()
}

func decodeListAccreditations(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, cursor, f := httpapi.ListParams(q, 500)
	coop := httpapi.OptionalID(&f, q, "cooperative_id")
	return AccreditationQuery{CooperativeID: coop, ServiceType: ServiceType(q.Get("service_type")), On: q.Get("on"),
		Limit: limit, Cursor: cursor}, f.Err()
}

func decodeAddProfile(_ context.Context, r *http.Request) (any, error) {
	id, in, err := httpapi.IDAndBody[ProfileInput](r, "id")
	return addProfileRequest{OperatorID: id, Profile: in}, err
}

func decodeEndProfile(_ context.Context, r *http.Request) (any, error) {
	id, err := httpapi.PathID(r, "id")
	if err != nil {
		return nil, err
	}
	pid, err := httpapi.PathID(r, "profile_id")
	return endProfileRequest{OperatorID: id, ProfileID: pid}, err
}

func decodeSetPassword(_ context.Context, r *http.Request) (any, error) {
	id, body, err := httpapi.IDAndBody[struct {
		NewPassword string `json:"new_password"`
	}](r, "id")
	return passwordRequest{OperatorID: id, NewPassword: body.NewPassword}, err
}

// MaxImportBytes bounds an operator import file (the idempotency middleware in front of the
// import must accept bodies this large).
const MaxImportBytes = 2 << 20

func decodeImport(_ context.Context, r *http.Request) (any, error) {
	if _, err := httpapi.RequireMediaType(r, "text/csv"); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxImportBytes))
	if err != nil {
		return nil, errs.InvalidField("body", "is larger than %d bytes", MaxImportBytes)
	}
	q := r.URL.Query()
	var f errs.Fields
	def := ImportDefaults{OrganizationID: httpapi.OptionalID(&f, q, "organization_id"), Role: auth.Role(q.Get("role"))}
	if def.Role != "" && !def.Role.Valid() {
		f.Add("role", "is not a role")
	}
	return importRequest{Body: body, Defaults: def}, f.Err()
}

// decodeToken reads an OAuth2 token request: form-encoded as RFC 6749 says (JSON is accepted
// too), client credentials from HTTP Basic or the form.
func decodeToken(ctx context.Context, r *http.Request) (any, error) {
	t, err := decodeTokenForm(ctx, r)
	return t, WithOAuthCode(err)
}

func decodeTokenForm(_ context.Context, r *http.Request) (any, error) {
	mt, err := httpapi.RequireMediaType(r, "application/x-www-form-urlencoded", "application/json")
	if err != nil {
		return nil, err
	}
	var t TokenRequest
	switch mt {
	case "application/x-www-form-urlencoded":
		v, err := httpapi.DecodeForm(r, 16<<10)
		if err != nil {
			return nil, err
		}
		t = TokenRequest{GrantType: v.Get("grant_type"), Username: v.Get("username"), Password: v.Get("password"),
			ProfileID: v.Get("profile_id"), RefreshToken: v.Get("refresh_token"), ClientID: v.Get("client_id"),
			ClientSecret: v.Get("client_secret"), Scope: v.Get("scope")}
	default: // application/json or a +json type
		var j struct {
			GrantType    string `json:"grant_type"`
			Username     string `json:"username"`
			Password     string `json:"password"`
			ProfileID    string `json:"profile_id"`
			RefreshToken string `json:"refresh_token"`
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
			Scope        string `json:"scope"`
		}
		if err := httpapi.DecodeJSONLimit(r, &j, 16<<10); err != nil {
			return nil, err
		}
		t = TokenRequest(j)
	}
	if id, secret, ok := r.BasicAuth(); ok {
		t.ClientID, _ = url.QueryUnescape(id)
		t.ClientSecret, _ = url.QueryUnescape(secret)
	}
	return t, nil
}

func decodeRevoke(_ context.Context, r *http.Request) (any, error) {
	mt, err := httpapi.RequireMediaType(r, "application/x-www-form-urlencoded", "application/json")
	if err != nil {
		return nil, err
	}
	if mt == "application/x-www-form-urlencoded" {
		v, err := httpapi.DecodeForm(r, 16<<10)
		if err != nil {
			return nil, err
		}
		return revokeRequest{Token: v.Get("token")}, nil
	}
	var req revokeRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	return req, nil
}
