package docstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// The media types Documents accepts.
const (
	PDF  = "application/pdf"
	PNG  = "image/png"
	JPEG = "image/jpeg"
)

// DefaultMaxDocumentBytes is the size limit of a document when DocumentsConfig sets none.
const DefaultMaxDocumentBytes = 10 << 20

// ErrIntegrity is in the chain of the error Documents.Get returns when the stored bytes do not
// match the SHA-256 recorded at upload (the error's kind is errs.Internal: the caller answers 500
// and never sees the bytes).
var ErrIntegrity = errors.New("docstore: the stored document does not match its SHA-256")

// magic numbers, the only evidence of a document's type that Documents trusts.
var magics = []struct {
	prefix    []byte
	mediaType string
}{
	{[]byte("%PDF-"), PDF},
	{[]byte("\x89PNG\r\n\x1a\n"), PNG},
	{[]byte("\xFF\xD8\xFF"), JPEG},
}

// Sniff returns the media type of b from its first bytes: PDF, PNG, JPEG, or "" for anything
// else.
func Sniff(b []byte) string {
	for _, m := range magics {
		if bytes.HasPrefix(b, m.prefix) {
			return m.mediaType
		}
	}
	return ""
}

// declaredAliases are the names clients use for the accepted types besides the registered ones.
var declaredAliases = map[string]string{
	"image/jpg":         JPEG,
	"image/pjpeg":       JPEG,
	"application/x-pdf": PDF,
}

// DocumentsConfig configures Documents. The zero value is usable over a store that presigns
// links (S3); a directory store also needs LinkKey and LinkBase.
type DocumentsConfig struct {
	// MaxBytes is the largest document accepted; DefaultMaxDocumentBytes when 0.
	MaxBytes int64
	// Field names the request field in the errors about a document's bytes ("file" when empty).
	Field string
	// LinkTTL is the lifetime of a download link when Link is given none; DefaultLinkTTL when
	// 0, at most MaxLinkTTL.
	LinkTTL time.Duration
	// LinkKey (at least 32 bytes) signs the download links of a store that cannot presign them
	// (a Dir); they are served by Documents.Handler mounted at LinkBase, an absolute URL such as
	// "https://interventions.example/v1/documents:download".
	LinkKey  []byte
	LinkBase string
}

// Documents keeps users' documents (PDF, PNG and JPEG only) in a Store:
//
//   - the type is sniffed from the bytes, never trusted from what the client declared; a declared
//     type that disagrees with the bytes is refused;
//   - the size is limited (DocumentsConfig.MaxBytes);
//   - the SHA-256 of the bytes is computed on upload and returned; the caller stores it with its
//     metadata and gives it back to Get and Link, which refuse bytes that no longer match it;
//   - the object is encrypted at rest by the server where the store can do it (Encrypter: the S3
//     store with SSE-S3; Document.Encrypted says whether the server confirmed it); a Dir does not
//     encrypt (put it on an encrypted volume);
//   - downloads go through short-lived links (Link): presigned by the S3 store, signed with
//     HMAC-SHA256 and served by Handler for a Dir.
//
// A document's key must be fresh for each upload (NewKey): Put replaces any object under its key
// and Upload deletes it when the commit fails, so a reused key could lose a committed document.
//
// The order that keeps the store and the caller's metadata consistent when either fails:
// store the object first, then commit the metadata; when the metadata cannot be committed, delete
// the object. Upload does exactly that. Then an unavailable store (errs.Unavailable: 503 with
// Retry-After at the HTTP edge) leaves no metadata without an object, and a failed commit no
// object without metadata (save a crash between the two, which leaves an object nobody refers
// to: harmless, and removable by comparing List with the metadata).
//
// Reading and linking a person's documents must be audited by the caller (pkg/audit) before the
// bytes or the link are handed out: Documents logs nothing.
type Documents struct {
	store    Store
	maxBytes int64
	field    string
	linkTTL  time.Duration
	signer   *linkSigner // nil when the store presigns
}

// Document is what Put returns: what the caller keeps with its metadata.
type Document struct {
	Key       string
	MediaType string // sniffed: PDF, PNG or JPEG
	Size      int64
	SHA256    string // lowercase hex
	Encrypted bool   // the store confirmed server-side encryption
}

// NewKey returns a fresh key under prefix ("interventions/<authorization id>"): prefix, a slash
// and a UUID v7, so that a prefix's keys list in upload order.
func NewKey(prefix string) string { return prefix + "/" + uuid.Must(uuid.NewV7()).String() }

// NewDocuments returns Documents over store.
func NewDocuments(store Store, cfg DocumentsConfig) (*Documents, error) {
	d := &Documents{store: store, maxBytes: cfg.MaxBytes, field: cfg.Field, linkTTL: cfg.LinkTTL}
	if d.maxBytes <= 0 {
		d.maxBytes = DefaultMaxDocumentBytes
	}
	if d.field == "" {
		d.field = "file"
	}
	if d.linkTTL <= 0 {
		d.linkTTL = DefaultLinkTTL
	}
	if d.linkTTL > MaxLinkTTL {
		return nil, fmt.Errorf("docstore: a link lifetime of %v is longer than %v", d.linkTTL, MaxLinkTTL)
	}
	if _, ok := store.(Presigner); !ok {
		s, err := newLinkSigner(cfg.LinkKey, cfg.LinkBase)
		if err != nil {
			return nil, err
		}
		d.signer = s
	}
	return d, nil
}

// MaxBytes is the size limit of a document.
func (d *Documents) MaxBytes() int64 { return d.maxBytes }

// ReadBody reads a document from r (a request body, a multipart part) up to the size limit,
// without reading more than one byte past it.
func (d *Documents) ReadBody(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, d.maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("docstore: read the document: %w", err)
	}
	if err := d.checkSize(int64(len(b))); err != nil {
		return nil, err
	}
	return b, nil
}

func (d *Documents) checkSize(n int64) error {
	if n > d.maxBytes {
		return &errs.Error{Kind: errs.TooLarge, Message: "the document is too large",
			Fields: []errs.FieldError{{Field: d.field, Message: fmt.Sprintf("must be at most %d bytes", d.maxBytes)}}}
	}
	return nil
}

// Check returns the sniffed media type of body, or the error naming the field that Put would
// return: empty, too large, not a PDF, PNG or JPEG, or declared as another type. declared is the
// client's Content-Type ("" or application/octet-stream when it declared none).
func (d *Documents) Check(body []byte, declared string) (string, error) {
	if len(body) == 0 {
		return "", errs.InvalidField(d.field, "is empty")
	}
	if err := d.checkSize(int64(len(body))); err != nil {
		return "", err
	}
	sniffed := Sniff(body)
	if sniffed == "" {
		return "", errs.InvalidField(d.field, "must be a PDF, PNG or JPEG document")
	}
	if declared = strings.TrimSpace(declared); declared != "" {
		mt, _, err := mime.ParseMediaType(declared)
		if err != nil {
			return "", errs.InvalidField(d.field, "declares an unreadable media type %q", declared)
		}
		if a, ok := declaredAliases[mt]; ok {
			mt = a
		}
		if mt != sniffed && mt != "application/octet-stream" {
			return "", errs.InvalidField(d.field, "is declared as %s but its content is %s", mt, sniffed)
		}
	}
	return sniffed, nil
}

// Put checks body (see Check) and stores it under key, encrypted by the server when the store
// can do it. It returns the document to record with the caller's metadata. An unreachable store
// is an errs.Unavailable error.
func (d *Documents) Put(ctx context.Context, key string, body []byte, declared string) (Document, error) {
	mt, err := d.Check(body, declared)
	if err != nil {
		return Document{}, err
	}
	sum := sha256.Sum256(body)
	doc := Document{Key: key, MediaType: mt, Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:])}
	if e, ok := d.store.(Encrypter); ok {
		doc.Encrypted, err = e.PutEncrypted(ctx, key, body, mt)
	} else {
		err = d.store.Put(ctx, key, body, mt)
	}
	if err != nil {
		// A failed Put may still have stored the object (a timeout after the store wrote it):
		// it is not deleted here, in case the caller reused a committed document's key; an
		// object nobody refers to is harmless (see Documents).
		return Document{}, err
	}
	return doc, nil
}

// deleteQuietly deletes key on a context of its own (the caller's may be what failed).
func (d *Documents) deleteQuietly(ctx context.Context, key string) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return d.store.Delete(dctx, key)
}

// Upload stores the document (Put) and then calls commit with it, which records the metadata
// (typically in the caller's database transaction). When commit fails, the object is deleted
// again and commit's error returned (joined with the Delete's error, if that fails too). commit
// must return an error only when it is sure nothing was committed.
func (d *Documents) Upload(ctx context.Context, key string, body []byte, declared string, commit func(context.Context, Document) error) (Document, error) {
	doc, err := d.Put(ctx, key, body, declared)
	if err != nil {
		return Document{}, err
	}
	if err := commit(ctx, doc); err != nil {
		if derr := d.deleteQuietly(ctx, key); derr != nil {
			return Document{}, errors.Join(err, fmt.Errorf("docstore: delete the uncommitted document %s: %w", key, derr))
		}
		return Document{}, err
	}
	return doc, nil
}

// Get returns the document under key after checking its bytes against sum, the SHA-256 (hex)
// Put returned: a mismatch is an errs.Internal error wrapping ErrIntegrity, and the bytes are
// not returned. A missing document is errs.NotFound, an unreachable store errs.Unavailable.
func (d *Documents) Get(ctx context.Context, key, sum string) (Object, error) {
	want, err := parseSum(sum)
	if err != nil {
		return Object{}, err
	}
	o, err := d.store.Get(ctx, key)
	if err != nil {
		return Object{}, err
	}
	if got := sha256.Sum256(o.Body); got != want {
		return Object{}, errs.Wrap(errs.Internal, ErrIntegrity, "docstore: document %s: SHA-256 %x, recorded %x", key, got, want)
	}
	return o, nil
}

// Delete removes the document under key (nothing when there is none).
func (d *Documents) Delete(ctx context.Context, key string) error { return d.store.Delete(ctx, key) }

func parseSum(sum string) ([sha256.Size]byte, error) {
	var want [sha256.Size]byte
	b, err := hex.DecodeString(sum)
	if err != nil || len(b) != sha256.Size {
		return want, fmt.Errorf("docstore: %q is not a hex SHA-256", sum)
	}
	copy(want[:], b)
	return want, nil
}
