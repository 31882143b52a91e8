package identity_test

import (
	"net/http"
	"testing"

	"github.com/csi-lombardia/csi/pkg/openapitest"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/identity"
)

// FuzzDecode runs the service's real routes and decoders, with every endpoint stubbed, on any
// body for any operation that takes one (servicetest.FuzzRoutes): no panic, never a 5xx.
func FuzzDecode(f *testing.F) {
	servicetest.FuzzRoutes(f, identity.OpenAPI(), identity.Routes, "organization_id="+openapitest.FuzzID+"&role=educator",
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
