package charttest

import (
	"testing"

	"example.org/csi/pkg/httpx"
)

func TestName(t *testing.T) { _ = httpx.Name("x") }
