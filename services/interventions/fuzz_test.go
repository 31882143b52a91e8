package interventions_test

import (
	"net/http"
	"testing"

	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/interventions"
)

// FuzzDecode runs the service's real routes and decoders, with every endpoint stubbed, on any
// body for any operation that takes one (servicetest.FuzzRoutes): no panic, never a 5xx.
func FuzzDecode(f *testing.F) {
	servicetest.FuzzRoutes(f, interventions.OpenAPI(), interventions.Routes, "status=draft", http.Header{"If-Match": {`"1"`}},
		`{}`, `{"istat_code":"015146","service_type":"SAD","period":{"from":"2025-01-01","to":"2025-12-31"},"hours":{"per_week":4.5}}`,
		`{"period":{"from":"2024-02-30"}}`, `{"hours":{"per_week":1e309}}`, `{"hours":{"total":-1}}`, `{"hourly_tariff_cents":9223372036854775807}`,
		`{"schedule":[{"weekday":"mon","from":"25:00","to":"09:00"}]}`, `{"status":"closed","reason":"a\u0000b"}`,
		// Members given twice, unpaired surrogates: refused, they would mean two things.
		`{"case_id":"a","case_id":"b"}`, `{"period":{"from":"2025-01-01","from":"2025-02-01"}}`, `{"reason":"\ud800"}`)
}
