package identity_test

import (
	"net/http"
	"testing"

	"github.com/csi-lombardia/csi/pkg/openapitest"
	"github.com/csi-lombardia/csi/services/identity"
)

// contractClient checks every answer the tests receive against the OpenAPI document.
func contractClient(t *testing.T, c *http.Client) *http.Client {
	return openapitest.Load(t, identity.OpenAPI()).Client(t, c)
}
