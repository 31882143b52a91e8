// Package beta imports another service.
package beta

import "example.org/csi/services/alpha"

// Kind is a domain type.
var Kind = alpha.Kind
