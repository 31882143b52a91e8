package beta_test

import (
	"testing"

	"example.org/csi/pkg/httpx"
	"example.org/csi/services/beta"
)

func TestKind(t *testing.T) { _ = httpx.Name(beta.Kind) }
