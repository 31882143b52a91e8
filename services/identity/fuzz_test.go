package identity_test

import (
	"crypto/ed25519"
	"log/slog"
	"net/http"
	"testing"

	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/openapitest"
	"github.com/csi-lombardia/csi/services/identity"
)

// FuzzDecode runs the service's real routes and decoders, with every endpoint stubbed, on any
// body for any operation that takes one (openapitest.FuzzDecoders): no panic, never a 5xx.
func FuzzDecode(f *testing.F) {
	var e identity.Endpoints
	openapitest.StubEndpoints(&e)
	mux := httpapi.NewMux()
	identity.Routes(mux, e, slog.New(slog.DiscardHandler), func(h http.Handler) http.Handler { return h },
		func() map[string]ed25519.PublicKey { return nil })
	openapitest.FuzzDecoders(f, identity.OpenAPI(), mux, "organization_id="+openapitest.FuzzID+"&role=educator",
		http.Header{"If-Match": {`"1"`}},
		`{}`, `{"kind":"comune","name":"x","istat_code":"015146"}`, `{"hourly_tariff_cents":1e309}`,
		"fiscal_code,given_name,family_name,email\nX,Y,Z,a@b.c\n", "grant_type=password&username=a&password=b", `{"token":"x"}`,
		// Members and fields given twice, unpaired surrogates: accepted, they would mean two things.
		`{"grant_type":"password","username":"a","username":"b","password":"x"}`, `{"name":"a","NAME":"b"}`,
		`{"profiles":[{"role":"educator","role":"asa"}]}`, `{"token":"x","token":"y"}`, `{"name":"\ud800"}`,
		`{"given_name":"\udc00x"}`, `{"new_password":"\ud800\u0041"}`, "grant_type=password&username=a&username=b",
		"token=a&token=b",
		// Values the store refuses or the domain cannot hold (pkg/valid): NUL and other controls,
		// dates out of range.
		`{"kind":"comune","name":"a\u0000b"}`, `{"name":"a\u0001\u0085b"}`, "grant_type=password&username=a%00b&password=b",
		`{"valid_from":"0000-01-01","valid_to":"10000-01-01"}`, `{"valid_from":"1999-12-31","role":"educator"}`,
		`{"valid_to":"294277-01-01"}`)
}
