package charttest

import (
	"testing"

	"example.org/csi/services/beta"
)

func TestName(t *testing.T) { _ = beta.Kind }
