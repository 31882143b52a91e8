// Package client uses a service's domain types.
package client

import (
	"example.org/csi/pkg/httpx"
	"example.org/csi/services/alpha"
)

// Kind is alpha's.
var Kind = httpx.Name(alpha.Kind)
