package intake_test

import (
	"net/http"
	"testing"

	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/intake"
)

// FuzzDecode runs the service's real routes and decoders, with every endpoint stubbed, on any
// body for any operation that takes one (servicetest.FuzzRoutes): no panic, never a 5xx.
func FuzzDecode(f *testing.F) {
	servicetest.FuzzRoutes(f, intake.OpenAPI(), intake.Routes, "version=2", http.Header{"If-Match": {`"1"`}},
		`{}`, `{"istat_code":"015146","channel":"in_person","referrer":{"kind":"self"},"request_type":"information","requested_area":"ANZ","needs":["ANZ.01"]}`,
		`{"date":"2024-02-30"}`, `{"needs":["ANZ.01","ANZ.01"]}`, `{"isee":{"type":"ordinario","value_cents":1e309}}`,
		`{"adl":{"answers":{"bathing":"independent","bathing":"dependent"}}}`, `{"areas":[{"code":"MIN","needs":[{"code":"MIN.09","label":"x"}]}]}`,
		`{"planned_services":[{"service_type":"SAD","hours_per_week":-1}]}`, `{"hours_per_week":169}`,
		// Members given twice, unpaired surrogates: accepted, they would mean two things.
		`{"citizen_id":"a","citizen_id":"b"}`, `{"referrer":{"kind":"self","kind":"family"}}`, `{"summary":"\ud800"}`,
		// Values the store refuses or the domain cannot hold (pkg/valid).
		`{"text":"a\u0000b"}`, `{"desk":"a\u0085b","date":"0000-01-01"}`, `{"closed_on":"10000-01-01"}`, `{"taxonomy_version":9223372036854775807}`)
}
