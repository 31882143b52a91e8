// Package audit uses another package of pkg.
package audit

import "example.org/csi/pkg/httpx"

// Who is who.
var Who = httpx.Name("A")
