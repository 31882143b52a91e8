package app

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth/authtest"
	"github.com/csi-lombardia/csi/pkg/docstore"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

// TestServeClosesJobsThenAuditThenPool: when serving stops, a background job that still writes
// an audit record on its way out gets it committed and checkpointed, because the skeleton stops
// the jobs first, then closes the audit log (which writes the last checkpoint), then the pool.
func TestServeClosesJobsThenAuditThenPool(t *testing.T) {
	pool := pgtest.New(t, audit.Migrations)
	key := make([]byte, audit.CheckpointSeedSize)
	_, _ = rand.Read(key)
	dir := filepath.Join(t.TempDir(), "checkpoints")
	b := Base{Service: "apptest", HTTPAddr: freeAddr(t), DrainDelay: 0, Grace: 5 * time.Second,
		Audit: AuditConfig{CheckpointKey: key, CheckpointInterval: time.Hour, CheckpointPrefix: "audit/apptest/", CheckpointDir: dir,
			VerifyInterval: 50 * time.Millisecond}}
	reg := prometheus.NewRegistry()
	a := New(b, slog.New(slog.NewTextHandler(io.Discard, nil)), reg, pool, audit.Migrations)
	log, err := a.OpenAudit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	written := make(chan error, 1)
	a.Go(func(ctx context.Context) {
		<-ctx.Done()
		// A job flushing its last work at shutdown.
		written <- log.Write(context.Background(), audit.Record{ActorID: "job", AmbitoID: "a-1", Action: "purge",
			ResourceType: "job", Outcome: audit.OutcomeSuccess})
	})
	iss := authtest.New(t)
	h := a.Handler(iss.Verifier(), func(*httpapi.Mux) {})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, h) }()

	// The periodic verification runs and exports its result.
	waitFor(t, "the first periodic verification", func() bool {
		n, _ := testutil.GatherAndCount(reg, "csi_audit_verification_last_run_timestamp_seconds")
		return n == 1
	})
	if got := gauge(t, reg, "csi_audit_verification_ok"); got != 1 {
		t.Errorf("csi_audit_verification_ok = %v, want 1", got)
	}
	if got := gauge(t, reg, "csi_audit_verification_interval_seconds"); got != 0.05 {
		t.Errorf("csi_audit_verification_interval_seconds = %v, want 0.05", got)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if err := <-written; err != nil {
		t.Fatalf("the job's audit record at shutdown: %v", err)
	}
	store, _ := docstore.NewDir(dir)
	keys, err := store.List(context.Background(), "audit/apptest/")
	if err != nil || len(keys) != 1 {
		t.Fatalf("checkpoints %v (%v), want the log's one", keys, err)
	}
	obj, err := store.Get(context.Background(), keys[0])
	if err != nil {
		t.Fatal(err)
	}
	var cp audit.Checkpoint
	if err := json.Unmarshal(obj.Body, &cp); err != nil {
		t.Fatal(err)
	}
	if cp.ChainID != log.ChainID() || cp.Seq != 1 {
		t.Errorf("checkpoint %+v, want chain %s at seq 1 (the record written at shutdown)", cp, log.ChainID())
	}
	if err := pool.Ping(context.Background()); err == nil {
		t.Error("the pool is still open after Serve returned")
	}
}

// gauge is the value of the registered gauge name.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}

// TestLoadAudit reads the audit configuration and refuses what is wrong, naming the variable.
func TestLoadAudit(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c AuditConfig)
	}{
		{"defaults", nil, "", func(t *testing.T, c AuditConfig) {
			if c.VerifyInterval != time.Hour || c.CheckpointKey != nil || c.CheckpointPrefix != "audit/svc/" ||
				c.CheckpointDir != "audit-checkpoints" || c.S3.Endpoint != "" || !c.S3.Secure {
				t.Errorf("defaults = %+v", c)
			}
		}},
		{"verification off", map[string]string{"CSI_AUDIT_VERIFY_INTERVAL": "0s"}, "", func(t *testing.T, c AuditConfig) {
			if c.VerifyInterval != 0 {
				t.Errorf("interval = %v", c.VerifyInterval)
			}
		}},
		{"key", map[string]string{"CSI_AUDIT_CHECKPOINT_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}, "", func(t *testing.T, c AuditConfig) {
			if len(c.CheckpointKey) != 32 {
				t.Errorf("key = %d bytes", len(c.CheckpointKey))
			}
		}},
		{"short key", map[string]string{"CSI_AUDIT_CHECKPOINT_KEY": "c2hvcnQ="}, "CSI_AUDIT_CHECKPOINT_KEY", nil},
		{"bad previous key", map[string]string{"CSI_AUDIT_CHECKPOINT_PREVIOUS_KEYS": "nope"}, "CSI_AUDIT_CHECKPOINT_PREVIOUS_KEYS", nil},
		{"s3 without bucket", map[string]string{"CSI_AUDIT_CHECKPOINT_S3_ENDPOINT": "s3:9000"}, "CSI_AUDIT_CHECKPOINT_S3_BUCKET", nil},
		{"bad interval", map[string]string{"CSI_AUDIT_VERIFY_INTERVAL": "hourly"}, "CSI_AUDIT_VERIFY_INTERVAL", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			env := &Env{}
			got := loadAudit(env, "svc")
			err := env.Err()
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("error %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("error %v, want one naming %s", err, c.wantErr)
			}
			if c.check != nil {
				c.check(t, got)
			}
			for k, v := range env.Masked() {
				if (k == "CSI_AUDIT_CHECKPOINT_KEY" || k == "CSI_AUDIT_CHECKPOINT_S3_SECRET_KEY") && v != "" && v != "*****" {
					t.Errorf("%s logged as %q", k, v)
				}
			}
		})
	}
}
