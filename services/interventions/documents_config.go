package interventions

import (
	"context"
	"crypto/rand"
	"log/slog"
	"time"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/docstore"
)

// DocumentsConfig is where and how the service keeps documents, from the environment
// (LoadDocumentsConfig).
type DocumentsConfig struct {
	S3       docstore.S3Config // CSI_INTERVENTIONS_S3_*: the store when the endpoint is set
	Dir      string            // CSI_INTERVENTIONS_DOCUMENTS_DIR: the store otherwise
	MaxBytes int64             // CSI_INTERVENTIONS_DOCUMENTS_MAX_BYTES
	LinkTTL  time.Duration     // CSI_INTERVENTIONS_DOCUMENTS_LINK_TTL (at most 15 minutes)
	// CSI_INTERVENTIONS_DOCUMENTS_LINK_KEY (32 bytes, base64) signs a directory store's links,
	// served at CSI_INTERVENTIONS_DOCUMENTS_LINK_BASE; without a key, one is drawn at start (the
	// links then die with the process).
	LinkKey  []byte
	LinkBase string
}

// LoadDocumentsConfig reads the documents' configuration; httpAddr is the service's listen
// address, for the default link base.
func LoadDocumentsConfig(env *app.Env, httpAddr string) DocumentsConfig {
	c := DocumentsConfig{
		S3: env.LoadS3(app.S3Vars{Endpoint: "CSI_INTERVENTIONS_S3_ENDPOINT", Bucket: "CSI_INTERVENTIONS_S3_BUCKET",
			Region: "CSI_INTERVENTIONS_S3_REGION", Secure: "CSI_INTERVENTIONS_S3_SECURE",
			AccessKey: "CSI_INTERVENTIONS_S3_ACCESS_KEY", SecretKey: "CSI_INTERVENTIONS_S3_SECRET_KEY"}),
		Dir:      env.String("CSI_INTERVENTIONS_DOCUMENTS_DIR", "documents"),
		MaxBytes: int64(env.Int("CSI_INTERVENTIONS_DOCUMENTS_MAX_BYTES", docstore.DefaultMaxDocumentBytes)),
		LinkTTL:  env.DurationMax("CSI_INTERVENTIONS_DOCUMENTS_LINK_TTL", docstore.DefaultLinkTTL, docstore.MaxLinkTTL),
		LinkBase: env.String("CSI_INTERVENTIONS_DOCUMENTS_LINK_BASE", "http://localhost"+portOf(httpAddr)+DownloadPath),
	}
	c.S3.PublicEndpoint = env.String("CSI_INTERVENTIONS_S3_PUBLIC_ENDPOINT", "")
	c.S3.PublicSecure = env.Bool("CSI_INTERVENTIONS_S3_PUBLIC_SECURE", true)
	if env.Secret("CSI_INTERVENTIONS_DOCUMENTS_LINK_KEY", "") != "" {
		c.LinkKey = env.Base64Key("CSI_INTERVENTIONS_DOCUMENTS_LINK_KEY", 32)
	}
	return c
}

func portOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i:]
		}
	}
	return ""
}

// OpenDocuments opens the document store of c. An S3 bucket that cannot be reached yet does not
// stop the start: a's background job creates it when missing once the store answers, and
// meanwhile uploads answer 503.
func OpenDocuments(ctx context.Context, a *app.App, c DocumentsConfig, log *slog.Logger) (*docstore.Documents, error) {
	cfg := docstore.DocumentsConfig{MaxBytes: c.MaxBytes, LinkTTL: c.LinkTTL, LinkKey: c.LinkKey, LinkBase: c.LinkBase}
	if c.S3.Endpoint != "" {
		s, err := docstore.NewS3(c.S3)
		if err != nil {
			return nil, err
		}
		a.Eventually(ctx, "documents bucket", 10*time.Second, s.EnsureBucket)
		log.Info("documents in S3", "store", "s3://"+c.S3.Endpoint+"/"+c.S3.Bucket)
		return docstore.NewDocuments(s, cfg)
	}
	d, err := docstore.NewDir(c.Dir)
	if err != nil {
		return nil, err
	}
	if len(cfg.LinkKey) == 0 {
		cfg.LinkKey = make([]byte, 32)
		_, _ = rand.Read(cfg.LinkKey)
		log.Warn("CSI_INTERVENTIONS_DOCUMENTS_LINK_KEY not set: download links are signed with a key drawn at start")
	}
	log.Info("documents in a directory", "store", d.Root(), "links", c.LinkBase)
	return docstore.NewDocuments(d, cfg)
}
