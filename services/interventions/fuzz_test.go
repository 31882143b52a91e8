package interventions_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/csi-lombardia/csi/pkg/errs"
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

// FuzzBatchDecode: any body decoded as a batch of visits either is refused with a problem
// naming a field (never a panic) or holds 1 to MaxBatch visits.
func FuzzBatchDecode(f *testing.F) {
	for _, seed := range []string{`{"visits":[]}`, `{"visits":[{}]}`, `{"visits":null}`, `{"visits":[{"start":"09:00","start":"10:00"}]}`,
		`{"visits":[{"authorization_id":"0195a1b2-3c4d-7e5f-8a9b-0c1d2e3f4a5b","operator_id":"0195a1b2-0000-7000-8000-0000000000b2",` +
			`"date":"2025-05-02","start":"09:00","end":"24:00","activities":["meal"],"place":"home","absent":true}]}`,
		`{"visits":[{"activities":"meal"}]}`, `{"visits":[{"notes":"\ud800"}]}`, `[1,2]`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := interventions.DecodeBatch(body)
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) || len(e.Fields) == 0 || e.Kind != errs.Invalid {
				t.Fatalf("refusal %v is not a 400 naming a field", err)
			}
			return
		}
		if len(b.Visits) < 1 || len(b.Visits) > interventions.MaxBatch {
			t.Fatalf("%d visits accepted", len(b.Visits))
		}
	})
}
