// Package docstoretest gives tests a docstore.Store on the real S3-compatible server named by
// CSI_TEST_S3_ENDPOINT (host:port, plain HTTP), with CSI_TEST_S3_ACCESS_KEY and
// CSI_TEST_S3_SECRET_KEY: a fresh bucket per call, emptied and removed when the test ends.
package docstoretest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/csi-lombardia/csi/pkg/docstore"
)

// Config creates a fresh bucket on the test server, removed with its objects when the test
// ends, and returns its configuration. It fails the test (it does not skip it) when
// CSI_TEST_S3_ENDPOINT is not set.
func Config(tb testing.TB) docstore.S3Config {
	tb.Helper()
	endpoint := os.Getenv("CSI_TEST_S3_ENDPOINT")
	if endpoint == "" {
		tb.Fatal("CSI_TEST_S3_ENDPOINT is not set: run the tests with 'make test', which starts an S3 server")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	cfg := docstore.S3Config{Endpoint: endpoint, Bucket: "csi-test-" + hex.EncodeToString(b[:]),
		AccessKey: os.Getenv("CSI_TEST_S3_ACCESS_KEY"), SecretKey: os.Getenv("CSI_TEST_S3_SECRET_KEY")}
	s, err := docstore.NewS3(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.EnsureBucket(ctx); err != nil {
		tb.Fatalf("create the test bucket: %v", err)
	}
	tb.Cleanup(func() { remove(tb, cfg) })
	return cfg
}

// S3 returns a Store in a fresh bucket of the test server (see Config).
func S3(tb testing.TB) *docstore.S3 {
	tb.Helper()
	s, err := docstore.NewS3(Config(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// remove empties and removes the bucket of cfg.
func remove(tb testing.TB, cfg docstore.S3Config) {
	c, err := minio.New(cfg.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")})
	if err != nil {
		tb.Errorf("remove the test bucket: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for o := range c.ListObjects(ctx, cfg.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			tb.Errorf("remove the test bucket: %v", o.Err)
			return
		}
		if err := c.RemoveObject(ctx, cfg.Bucket, o.Key, minio.RemoveObjectOptions{}); err != nil {
			tb.Errorf("remove the test bucket: %v", err)
			return
		}
	}
	if err := c.RemoveBucket(ctx, cfg.Bucket); err != nil {
		tb.Errorf("remove the test bucket: %v", err)
	}
}
