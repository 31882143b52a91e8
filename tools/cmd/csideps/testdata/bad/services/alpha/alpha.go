// Package alpha is a service's domain.
package alpha

import "example.org/csi/pkg/httpx"

// Kind is a domain type.
var Kind = httpx.Name("K")
