package identity_test

import (
	"net/http"
	"testing"

	"github.com/csi-lombardia/csi/pkg/openapitest"
	"github.com/csi-lombardia/csi/services/identity"
)

// contractClient checks every answer the tests receive against the OpenAPI document.
func contractClient(t *testing.T, c *http.Client) *http.Client {
	contract := openapitest.Load(t, identity.OpenAPI())
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	return &http.Client{Transport: contract.Transport(t, next)}
}
