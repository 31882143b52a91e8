package interventions_test

import (
	"testing"

	"github.com/csi-lombardia/csi/pkg/openapitest"
)

// TestContractSweep sends bad input of every kind to every operation of the contract
// (openapitest.Sweep), each as the first caller of its row of the role table: each answer must be
// a documented 4xx problem and nothing may be written.
func TestContractSweep(t *testing.T) {
	s := newSuite(t)
	s.Sweep(t, roleTable(t, s), openapitest.SweepConfig{})
}
