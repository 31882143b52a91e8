package registry_test

import (
	"net/http"
	"testing"

	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/registry"
)

// FuzzDecode runs the service's real routes and decoders, with every endpoint stubbed, on any
// body for any operation that takes one (servicetest.FuzzRoutes): no panic, never a 5xx.
func FuzzDecode(f *testing.F) {
	servicetest.FuzzRoutes(f, registry.OpenAPI(), registry.Routes, "istat_code=015146", http.Header{"If-Match": {`"1"`}},
		`{}`, `{"family_name":"Rossi","given_name":"Mario","sex":"M","birth_date":"1980-01-01","residence":{"istat_code":"015146","address":"x"}}`,
		`{"birth_date":"2024-02-30"}`, `{"other_id":"x"}`, `{"limit":1e309}`, "fiscal_code,family_name\n",
		// Members given twice, unpaired surrogates: accepted, they would mean two things.
		`{"family_name":"Rossi","family_name":"Bianchi"}`, `{"residence":{"istat_code":"015146","istat_code":"015147"}}`,
		`{"fiscal_code":"a","FISCAL_CODE":"b"}`, `{"family_name":"\ud800"}`, `{"residence":{"address":"\udc00x"}}`,
		// Values the store refuses or the domain cannot hold (pkg/valid): NUL and other controls,
		// dates out of range.
		`{"name":"a\u0000b"}`, `{"family_name":"a\u0085b","birth_date":"0000-01-01"}`, `{"birth_date":"1899-12-31"}`,
		`{"reason":"a\u0000"}`, `{"death_date":"10000-01-01","privacy":{"consents":[{"given_on":"-0001-01-01"}]}}`,
		"fiscal_code,family_name,given_name,sex,birth_date\nX,a\x00b,Y,M,0000-01-01\n")
}
