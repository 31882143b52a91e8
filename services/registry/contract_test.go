package registry_test

import (
	"net/http"
	"testing"

	"github.com/csi-lombardia/csi/pkg/openapitest"
	"github.com/csi-lombardia/csi/services/registry"
)

// contractClient checks every answer the tests receive against the OpenAPI document.
func contractClient(t *testing.T, c *http.Client) *http.Client {
	return openapitest.Load(t, registry.OpenAPI()).Client(t, c)
}
