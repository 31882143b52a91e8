// Package audit reaches up into a service.
package audit

import (
	"example.org/csi/pkg/httpx"
	"example.org/csi/services/alpha"
)

// Who is who.
var Who = httpx.Name(alpha.Kind)
