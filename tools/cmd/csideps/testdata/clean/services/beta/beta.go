// Package beta is another service.
package beta

// Kind is a domain type.
const Kind = "b"
