package app

import (
	"context"
	"errors"

	"github.com/csi-lombardia/csi/pkg/docstore"
)

// LoadS3 reads the configuration of an S3-compatible bucket from the variables
// <prefix>_S3_ENDPOINT, _BUCKET, _REGION, _SECURE (default true), _ACCESS_KEY and _SECRET_KEY
// (secrets): the audit checkpoints' (CSI_AUDIT_CHECKPOINT) and a service's documents
// (CSI_INTERVENTIONS) alike. An endpoint without a bucket is a configuration problem.
func (e *Env) LoadS3(prefix string) docstore.S3Config {
	c := docstore.S3Config{
		Endpoint:  e.String(prefix+"_S3_ENDPOINT", ""),
		Bucket:    e.String(prefix+"_S3_BUCKET", ""),
		Region:    e.String(prefix+"_S3_REGION", ""),
		Secure:    e.Bool(prefix+"_S3_SECURE", true),
		AccessKey: e.Secret(prefix+"_S3_ACCESS_KEY", ""),
		SecretKey: e.Secret(prefix+"_S3_SECRET_KEY", ""),
	}
	if c.Endpoint != "" && c.Bucket == "" {
		e.problems = append(e.problems, prefix+"_S3_BUCKET is required with "+prefix+"_S3_ENDPOINT")
	}
	return c
}

// OpenStore opens an object store: the bucket of s3 when it names an endpoint (created when
// missing), else the directory dir. It returns the store and where it is, for the log.
func OpenStore(ctx context.Context, s3 docstore.S3Config, dir string) (docstore.Store, string, error) {
	if s3.Endpoint != "" {
		s, err := docstore.NewS3(s3)
		if err != nil {
			return nil, "", err
		}
		if err := s.EnsureBucket(ctx); err != nil {
			return nil, "", err
		}
		return s, "s3://" + s3.Endpoint + "/" + s3.Bucket, nil
	}
	if dir == "" {
		return nil, "", errors.New("no object store: neither a directory nor an S3 endpoint is configured")
	}
	d, err := docstore.NewDir(dir)
	if err != nil {
		return nil, "", err
	}
	return d, d.Root(), nil
}
