// Package postgres is alpha's adapter.
package postgres

import "example.org/csi/services/alpha"

// Kind is alpha's.
var Kind = alpha.Kind
