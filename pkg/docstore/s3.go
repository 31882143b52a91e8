package docstore

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// S3Config locates a bucket of an S3-compatible object store.
type S3Config struct {
	Endpoint  string // host:port, no scheme
	Bucket    string
	AccessKey string
	SecretKey string
	Secure    bool   // HTTPS
	Region    string // optional
	// MaxRetries is the attempts minio-go makes per call on a network error or a 5xx answer;
	// DefaultS3Retries when 0. Few, so that an unreachable store is reported (errs.Unavailable)
	// within a second rather than after minio-go's default of ten attempts.
	MaxRetries int
	// PublicEndpoint (host:port, no scheme), when set, is the address presigned links point at,
	// for clients that reach the store under another name than the service does (a public
	// host name in front of a cluster-internal one); PublicSecure says whether it is HTTPS.
	// Presigning against it needs no call to it: the Region ("us-east-1" when empty) is assumed.
	PublicEndpoint string
	PublicSecure   bool
}

// DefaultS3Retries is the attempts per call when S3Config sets none.
const DefaultS3Retries = 3

// S3 is a Store in a bucket of an S3-compatible object store (through minio-go).
type S3 struct {
	client    *minio.Client
	presigner *minio.Client // client, or one for PublicEndpoint
	bucket    string
}

// NewS3 returns a Store in the bucket of cfg. It does not contact the store: see EnsureBucket.
func NewS3(cfg S3Config) (*S3, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("docstore: S3 needs an endpoint and a bucket")
	}
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     cfg.Secure,
		Region:     cfg.Region,
		MaxRetries: cmp.Or(cfg.MaxRetries, DefaultS3Retries),
	})
	if err != nil {
		return nil, fmt.Errorf("docstore: S3 client for %s: %w", cfg.Endpoint, err)
	}
	s := &S3{client: c, presigner: c, bucket: cfg.Bucket}
	if cfg.PublicEndpoint != "" {
		s.presigner, err = minio.New(cfg.PublicEndpoint, &minio.Options{
			Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
			Secure: cfg.PublicSecure,
			Region: cmp.Or(cfg.Region, "us-east-1"),
		})
		if err != nil {
			return nil, fmt.Errorf("docstore: S3 client for %s: %w", cfg.PublicEndpoint, err)
		}
	}
	return s, nil
}

// EnsureBucket creates the bucket when it does not exist.
func (s *S3) EnsureBucket(ctx context.Context) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return translate(err, "docstore: bucket %s", s.bucket)
	}
	if ok {
		return nil
	}
	if err := s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{}); err != nil {
		// Another replica may have created it meanwhile.
		if ok, err2 := s.client.BucketExists(ctx, s.bucket); err2 == nil && ok {
			return nil
		}
		return translate(err, "docstore: create bucket %s", s.bucket)
	}
	return nil
}

// Put implements Store.
func (s *S3) Put(ctx context.Context, key string, body []byte, contentType string) error {
	return s.put(ctx, key, body, minio.PutObjectOptions{ContentType: contentType})
}

// PutEncrypted implements Encrypter: Put with SSE-S3 (the server encrypts the object with keys
// it holds, and decrypts it for any authorized GET, presigned ones included). minio-go does not
// show the PUT's answer headers, so the object is asked for (a HEAD) whether the server did
// encrypt it: some S3-compatible servers accept the header and ignore it.
func (s *S3) PutEncrypted(ctx context.Context, key string, body []byte, contentType string) (bool, error) {
	if err := s.put(ctx, key, body, minio.PutObjectOptions{ContentType: contentType, ServerSideEncryption: encrypt.NewSSE()}); err != nil {
		return false, err
	}
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return false, translate(err, "docstore put %s", key)
	}
	switch info.Metadata.Get("X-Amz-Server-Side-Encryption") {
	case "AES256", "aws:kms", "aws:kms:dsse":
		return true, nil
	}
	return false, nil
}

func (s *S3) put(ctx context.Context, key string, body []byte, opts minio.PutObjectOptions) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if _, err := s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(body), int64(len(body)), opts); err != nil {
		return translate(err, "docstore put %s", key)
	}
	return nil
}

// PresignGet implements Presigner: a GET link to the object valid for ttl (at most seven days
// by S3's rules; Documents keeps it to MaxLinkTTL), answered as an attachment. Without a
// configured Region, the first call asks the store for the bucket's location.
func (s *S3) PresignGet(ctx context.Context, key string, ttl time.Duration) (*url.URL, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	u, err := s.presigner.PresignedGetObject(ctx, s.bucket, key, ttl, url.Values{"response-content-disposition": {"attachment"}})
	if err != nil {
		return nil, translate(err, "docstore presign %s", key)
	}
	return u, nil
}

// Get implements Store.
func (s *S3) Get(ctx context.Context, key string) (Object, error) {
	if err := ValidKey(key); err != nil {
		return Object{}, err
	}
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	o, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return Object{}, translate(err, "docstore get %s", key)
	}
	defer o.Close()
	info, err := o.Stat()
	if err != nil {
		return Object{}, translate(err, "docstore get %s", key)
	}
	b, err := io.ReadAll(o)
	if err != nil {
		return Object{}, translate(err, "docstore get %s", key)
	}
	return Object{Key: key, Body: b, ContentType: info.ContentType}, nil
}

// List implements Store.
func (s *S3) List(ctx context.Context, prefix string) ([]string, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	var keys []string
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, translate(o.Err, "docstore list %s", prefix)
		}
		keys = append(keys, o.Key)
	}
	return keys, nil // S3 lists in lexical (UTF-8 binary) order
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return translate(err, "docstore delete %s", key)
	}
	return nil
}

// translate gives a missing object the NotFound kind and a failing or unreachable store the
// Unavailable kind; a refusal (credentials, missing bucket) stays an internal error.
func translate(err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.Code {
		case minio.NoSuchKey:
			return errs.Wrap(errs.NotFound, err, "%s: not found", msg)
		}
		if resp.StatusCode >= 500 {
			return errs.Wrap(errs.Unavailable, err, "%s: the object store is unavailable", msg)
		}
		return fmt.Errorf("%s: %w", msg, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", msg, err)
	}
	return errs.Wrap(errs.Unavailable, err, "%s: the object store is unavailable", msg)
}
