package registry_test

import (
	"testing"
	"time"

	"github.com/csi-lombardia/csi/pkg/openapitest"
)

// TestContractSweep sends bad input of every kind to every operation of the contract
// (openapitest.Sweep), each as the first caller of its row of the role table: each answer must be
// a documented 4xx problem and nothing may be written.
func TestContractSweep(t *testing.T) {
	s := newSuite(t, options{})
	start := time.Now()
	s.Sweep(t, roleTable(t, s), openapitest.SweepConfig{
		// Criteria that find more than one fixture: the imported residents of Milan were all born
		// on 1930-01-01 (servicetest.PersonN).
		ListCriteria: func(op openapitest.Operation) map[string]any {
			switch op.OperationID {
			case "listCitizens":
				return map[string]any{"residence_istat": milano}
			case "searchCitizens":
				return map[string]any{"birth_date": "1930-01-01"}
			}
			return nil
		},
	})
	t.Logf("sweep took %s", time.Since(start).Round(time.Millisecond))
}
