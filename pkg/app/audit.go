package app

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/docstore"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

// AuditConfig is the configuration of a service's audit trail: its periodic verification and
// the signed checkpoints of its chains kept outside the database.
type AuditConfig struct {
	VerifyInterval time.Duration // CSI_AUDIT_VERIFY_INTERVAL: 0 turns the periodic verification off

	// CSI_AUDIT_CHECKPOINT_KEY: the 32-byte Ed25519 seed (base64) checkpoints are signed with;
	// empty turns checkpoints off.
	CheckpointKey []byte
	// CSI_AUDIT_CHECKPOINT_PREVIOUS_KEYS: earlier public keys (base64, comma-separated) whose
	// checkpoints are still accepted after a key rotation.
	PreviousKeys       []ed25519.PublicKey
	CheckpointInterval time.Duration     // CSI_AUDIT_CHECKPOINT_INTERVAL: how often a moved head is checkpointed
	CheckpointPrefix   string            // CSI_AUDIT_CHECKPOINT_PREFIX: key prefix, default audit/<service>/
	CheckpointDir      string            // CSI_AUDIT_CHECKPOINT_DIR: the store when no S3 endpoint is set
	S3                 docstore.S3Config // CSI_AUDIT_CHECKPOINT_S3_*: the store when its endpoint is set
}

// loadAudit reads the audit configuration of service.
func loadAudit(env *Env, service string) AuditConfig {
	c := AuditConfig{
		VerifyInterval:     env.Duration("CSI_AUDIT_VERIFY_INTERVAL", time.Hour),
		CheckpointInterval: env.Duration("CSI_AUDIT_CHECKPOINT_INTERVAL", audit.DefaultCheckpointInterval),
		CheckpointPrefix:   env.String("CSI_AUDIT_CHECKPOINT_PREFIX", "audit/"+service+"/"),
		CheckpointDir:      env.String("CSI_AUDIT_CHECKPOINT_DIR", "audit-checkpoints"),
		S3: env.LoadS3(S3Vars{Endpoint: "CSI_AUDIT_CHECKPOINT_S3_ENDPOINT", Bucket: "CSI_AUDIT_CHECKPOINT_S3_BUCKET",
			Region: "CSI_AUDIT_CHECKPOINT_S3_REGION", Secure: "CSI_AUDIT_CHECKPOINT_S3_SECURE",
			AccessKey: "CSI_AUDIT_CHECKPOINT_S3_ACCESS_KEY", SecretKey: "CSI_AUDIT_CHECKPOINT_S3_SECRET_KEY"}),
	}
	if env.Secret("CSI_AUDIT_CHECKPOINT_KEY", "") != "" {
		c.CheckpointKey = env.Base64Key("CSI_AUDIT_CHECKPOINT_KEY", audit.CheckpointSeedSize)
	}
	if prev := env.String("CSI_AUDIT_CHECKPOINT_PREVIOUS_KEYS", ""); prev != "" {
		for _, k := range strings.Split(prev, ",") {
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k))
			if err != nil || len(b) != ed25519.PublicKeySize {
				env.problems = append(env.problems, "CSI_AUDIT_CHECKPOINT_PREVIOUS_KEYS must be base64 Ed25519 public keys, comma-separated")
				break
			}
			c.PreviousKeys = append(c.PreviousKeys, ed25519.PublicKey(b))
		}
	}
	return c
}

// checkpointStore opens the configured checkpoint store: S3 when an endpoint is set (the bucket
// is created when missing), else the directory.
func (c AuditConfig) checkpointStore(ctx context.Context) (docstore.Store, string, error) {
	if c.S3.Endpoint == "" && c.CheckpointDir == "" {
		return nil, "", errors.New("no checkpoint store: set CSI_AUDIT_CHECKPOINT_DIR or CSI_AUDIT_CHECKPOINT_S3_ENDPOINT")
	}
	return OpenStore(ctx, c.S3, c.CheckpointDir)
}

// OpenAudit opens the service's audit log, owned by the App: with a checkpoint key it checkpoints
// its chain to the configured store; it starts the periodic verification (every
// CSI_AUDIT_VERIFY_INTERVAL) as a background job; and Handler then serves GET /v1/audit:verify
// for the privacy officer. Serve closes the log after the background jobs and before the pool.
// Call it once, before Handler.
func (a *App) OpenAudit(ctx context.Context) (*audit.Log, error) {
	if a.auditLog != nil {
		return nil, errors.New("app: OpenAudit called twice")
	}
	cfg := a.Base.Audit
	opts := []audit.Option{audit.WithLogger(a.Log), audit.WithRegisterer(a.Registry)}
	var cps *audit.Checkpoints
	if len(cfg.CheckpointKey) > 0 {
		store, where, err := cfg.checkpointStore(ctx)
		if err != nil {
			return nil, fmt.Errorf("audit checkpoints: %w", err)
		}
		cps, err = audit.NewCheckpoints(store, cfg.CheckpointPrefix, cfg.CheckpointKey, cfg.PreviousKeys...)
		if err != nil {
			return nil, err
		}
		opts = append(opts, audit.WithCheckpoints(cps, cfg.CheckpointInterval))
		a.Log.Info("audit checkpoints on", "store", where, "prefix", cps.Prefix(),
			"public_key", base64.StdEncoding.EncodeToString(cps.PublicKey()), "key_id", audit.KeyID(cps.PublicKey()))
	} else {
		a.Log.Warn("audit checkpoints off (CSI_AUDIT_CHECKPOINT_KEY not set): deleting the newest audit records " +
			"together with their chain head would go unnoticed")
	}
	a.auditLog = audit.New(a.Pool, opts...)
	a.verifier = audit.NewVerifier(a.Pool, a.auditLog, cps, a.Registry, a.Log)
	if cfg.VerifyInterval > 0 {
		a.Go(func(ctx context.Context) { a.verifier.Run(ctx, cfg.VerifyInterval) })
	}
	return a.auditLog, nil
}

// AuditVerifier is the verifier of the audit log opened by OpenAudit (nil before).
func (a *App) AuditVerifier() *audit.Verifier { return a.verifier }

// auditRoutes registers GET /v1/audit:verify when the audit log is open.
func (a *App) auditRoutes(mux *httpapi.Mux) {
	if a.verifier != nil {
		mux.Handle(audit.VerifyRoute, httpapi.NewServer(a.Log, a.verifier.Endpoint(), audit.DecodeVerifyRequest))
	}
}
