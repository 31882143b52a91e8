// Package docstore keeps objects (keys to bytes with a content type) outside the database: a
// directory on disk for development and single-node installations, or an S3-compatible object
// store (MinIO, SeaweedFS, Ceph, AWS) in clusters. The audit log keeps its signed chain
// checkpoints there; Documents keeps users' documents (PDF, PNG, JPEG) over any Store.
//
// Keys are slash-separated paths of printable ASCII segments ("audit/identity/0190….json"):
// no empty segment, none starting with a dot (so no "." or ".."), no leading or trailing slash, at most 512 bytes. The same
// key means the same object in every implementation, so a store can be moved from a directory
// to a bucket by copying the files.
//
// Every call takes a context; when it carries no deadline the implementation applies
// DefaultTimeout, so that an unreachable store never blocks its caller for ever.
package docstore

import (
	"context"
	"strings"
	"time"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// Store keeps objects by key.
type Store interface {
	// Put stores body under key with its content type, replacing any object there. The object
	// is visible whole or not at all.
	Put(ctx context.Context, key string, body []byte, contentType string) error
	// Get returns the object under key; an errs.NotFound error when there is none.
	Get(ctx context.Context, key string) (Object, error)
	// List returns the keys starting with prefix, in lexical order.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes the object under key; deleting a missing key is not an error, so that a
	// retried Delete succeeds.
	Delete(ctx context.Context, key string) error
}

// Object is a stored object.
type Object struct {
	Key         string
	Body        []byte
	ContentType string
}

// DefaultTimeout bounds a call whose context has no deadline.
const DefaultTimeout = 30 * time.Second

// MaxKeyBytes is the longest key accepted.
const MaxKeyBytes = 512

// ValidKey reports why key is not a valid key, or nil.
func ValidKey(key string) error {
	if key == "" || len(key) > MaxKeyBytes {
		return errs.E(errs.Invalid, "docstore key %q: must be 1 to %d bytes", key, MaxKeyBytes)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg[0] == '.' {
			return errs.E(errs.Invalid, "docstore key %q: empty segment or one starting with a dot", key)
		}
		for _, c := range seg {
			if c < 0x21 || c > 0x7e || c == '\\' {
				return errs.E(errs.Invalid, "docstore key %q: only printable ASCII without spaces or backslashes", key)
			}
		}
	}
	return nil
}

// withDeadline applies DefaultTimeout to a context without a deadline.
func withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultTimeout)
}
