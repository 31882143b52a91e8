// Package apptest gives the services' tests the pieces of the process skeleton they configure
// the same way.
package apptest

import (
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/audit"
)

// AuditConfig checkpoints the audit chains to a fresh directory of the test with a random key
// and leaves the periodic verification off (tests run it through the endpoint).
func AuditConfig(tb testing.TB) app.AuditConfig {
	tb.Helper()
	key := make([]byte, audit.CheckpointSeedSize)
	if _, err := rand.Read(key); err != nil {
		tb.Fatal(err)
	}
	return app.AuditConfig{CheckpointKey: key, CheckpointInterval: audit.DefaultCheckpointInterval,
		CheckpointPrefix: "audit/test/", CheckpointDir: filepath.Join(tb.TempDir(), "audit-checkpoints")}
}
