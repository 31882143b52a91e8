package interventions_test

import (
	"strings"
	"testing"
	"time"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/services/interventions"
)

// TestLoadDocumentsConfig: the documents' store from the environment, S3 read as the audit
// checkpoints' is (app.Env.LoadS3), each mistake named.
func TestLoadDocumentsConfig(t *testing.T) {
	t.Run("defaults: a directory", func(t *testing.T) {
		env := &app.Env{}
		c := interventions.LoadDocumentsConfig(env, ":8084")
		if err := env.Err(); err != nil {
			t.Fatal(err)
		}
		if c.S3.Endpoint != "" || c.Dir != "documents" || c.LinkBase != "http://localhost:8084/v1/documents:download" ||
			c.LinkTTL != 5*time.Minute || c.MaxBytes != 10<<20 || c.LinkKey != nil {
			t.Errorf("defaults = %+v", c)
		}
	})
	t.Run("S3", func(t *testing.T) {
		for k, v := range map[string]string{"CSI_INTERVENTIONS_S3_ENDPOINT": "s3.example.org:9000", "CSI_INTERVENTIONS_S3_BUCKET": "csi-docs",
			"CSI_INTERVENTIONS_S3_SECURE": "false", "CSI_INTERVENTIONS_S3_ACCESS_KEY": "ak", "CSI_INTERVENTIONS_S3_SECRET_KEY": "sk",
			"CSI_INTERVENTIONS_S3_PUBLIC_ENDPOINT": "files.example.org:443", "CSI_INTERVENTIONS_DOCUMENTS_LINK_TTL": "15m"} {
			t.Setenv(k, v)
		}
		env := &app.Env{}
		c := interventions.LoadDocumentsConfig(env, "127.0.0.1:9004")
		if err := env.Err(); err != nil {
			t.Fatal(err)
		}
		if c.S3.Endpoint != "s3.example.org:9000" || c.S3.Bucket != "csi-docs" || c.S3.Secure || c.S3.AccessKey != "ak" || c.S3.SecretKey != "sk" ||
			c.S3.PublicEndpoint != "files.example.org:443" || !c.S3.PublicSecure || c.LinkTTL != 15*time.Minute {
			t.Errorf("S3 = %+v", c)
		}
		if m := env.Masked(); m["CSI_INTERVENTIONS_S3_SECRET_KEY"] == "sk" {
			t.Error("the secret key is shown")
		}
	})
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"an endpoint without a bucket", map[string]string{"CSI_INTERVENTIONS_S3_ENDPOINT": "s3:9000"}, "CSI_INTERVENTIONS_S3_BUCKET"},
		{"a link lifetime over 15 minutes", map[string]string{"CSI_INTERVENTIONS_DOCUMENTS_LINK_TTL": "1h"}, "CSI_INTERVENTIONS_DOCUMENTS_LINK_TTL"},
		{"a short link key", map[string]string{"CSI_INTERVENTIONS_DOCUMENTS_LINK_KEY": "c2hvcnQ="}, "CSI_INTERVENTIONS_DOCUMENTS_LINK_KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			env := &app.Env{}
			interventions.LoadDocumentsConfig(env, ":8084")
			if err := env.Err(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one naming %s", err, tc.want)
			}
		})
	}
}
