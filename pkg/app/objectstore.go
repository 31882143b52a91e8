package app

import (
	"context"
	"errors"

	"github.com/csi-lombardia/csi/pkg/docstore"
)

// S3Vars name the variables of an S3-compatible bucket's configuration, each spelled out (the
// README's configuration tables are checked against the names the code reads).
type S3Vars struct{ Endpoint, Bucket, Region, Secure, AccessKey, SecretKey string }

// LoadS3 reads the configuration of an S3-compatible bucket from the variables v names: the
// endpoint, bucket, region, secure (default true), access key and secret key (secrets) — the
// audit checkpoints' and a service's documents alike. An endpoint without a bucket is a
// configuration problem.
func (e *Env) LoadS3(v S3Vars) docstore.S3Config {
	c := docstore.S3Config{
		Endpoint:  e.String(v.Endpoint, ""),
		Bucket:    e.String(v.Bucket, ""),
		Region:    e.String(v.Region, ""),
		Secure:    e.Bool(v.Secure, true),
		AccessKey: e.Secret(v.AccessKey, ""),
		SecretKey: e.Secret(v.SecretKey, ""),
	}
	if c.Endpoint != "" && c.Bucket == "" {
		e.problems = append(e.problems, v.Bucket+" is required with "+v.Endpoint)
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
