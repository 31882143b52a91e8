package registry_test

import (
	"net/http"
	"testing"

	"github.com/csi-lombardia/csi/pkg/openapitest"
	"github.com/csi-lombardia/csi/services/registry"
)

// contractClient checks every answer the tests receive against the OpenAPI document, and does
// not follow redirects (a merged record answers 301).
func contractClient(t *testing.T, c *http.Client) *http.Client {
	contract := openapitest.Load(t, registry.OpenAPI())
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	return &http.Client{Transport: contract.Transport(t, next), CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}
