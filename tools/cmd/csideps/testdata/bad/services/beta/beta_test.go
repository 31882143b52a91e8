package beta_test

import (
	"testing"

	"example.org/csi/services/beta"
	"example.org/csi/tools/internal/client"
)

func TestKind(t *testing.T) { _ = beta.Kind + client.Kind }
