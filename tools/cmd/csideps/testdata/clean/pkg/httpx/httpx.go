// Package httpx is plumbing.
package httpx

import "strings"

// Name is a name.
func Name(s string) string { return strings.ToLower(s) }
