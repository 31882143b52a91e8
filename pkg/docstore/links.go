package docstore

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

// DefaultLinkTTL is the lifetime of a download link when none is configured; MaxLinkTTL the
// longest allowed.
const (
	DefaultLinkTTL = 5 * time.Minute
	MaxLinkTTL     = 15 * time.Minute
)

// Presigner is a Store that can presign a download link to an object (the S3 store); the link
// works without credentials until it expires.
type Presigner interface {
	PresignGet(ctx context.Context, key string, ttl time.Duration) (*url.URL, error)
}

// Encrypter is a Store that can have an object encrypted at rest by the server (the S3 store,
// with SSE-S3: the server holds the keys). PutEncrypted is Put asking for encryption; it reports
// whether the server confirmed it (a server without SSE stores the object unencrypted).
type Encrypter interface {
	PutEncrypted(ctx context.Context, key string, body []byte, contentType string) (encrypted bool, err error)
}

// Link is a short-lived download link.
type Link struct {
	URL     string
	Expires time.Time
}

// Link returns a download link to the document under key, valid for ttl (the configured
// lifetime when 0; at most MaxLinkTTL). sum is the SHA-256 Put returned: a presigning store
// (S3) serves the bytes itself, so Link first reads them and refuses (ErrIntegrity) to link a
// document that no longer matches; a Dir's link carries the sum, and Handler checks it when
// serving. The caller audits the link before handing it out.
func (d *Documents) Link(ctx context.Context, key, sum string, ttl time.Duration) (Link, error) {
	if ttl <= 0 {
		ttl = d.linkTTL
	}
	if ttl > MaxLinkTTL {
		return Link{}, fmt.Errorf("docstore: a link lifetime of %v is longer than %v", ttl, MaxLinkTTL)
	}
	if d.signer != nil {
		if _, err := parseSum(sum); err != nil {
			return Link{}, err
		}
		if err := ValidKey(key); err != nil {
			return Link{}, err
		}
		exp := time.Now().Add(ttl).Truncate(time.Second)
		return Link{URL: d.signer.sign(key, sum, exp), Expires: exp}, nil
	}
	if _, err := d.Get(ctx, key, sum); err != nil {
		return Link{}, err
	}
	exp := time.Now().Add(ttl)
	u, err := d.store.(Presigner).PresignGet(ctx, key, ttl)
	if err != nil {
		return Link{}, err
	}
	return Link{URL: u.String(), Expires: exp}, nil
}

// Handler serves the links Link signs for a store that cannot presign (a Dir), mounted at
// DocumentsConfig.LinkBase: GET with the link's query. A tampered or expired link is refused
// (403), a document that does not match its SHA-256 is never served (500). Over a presigning
// store it answers 404 to everything: the links point at the store.
func (d *Documents) Handler(log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if d.signer == nil {
			httpapi.WriteProblem(ctx, log, w, r, errs.E(errs.NotFound, "documents are downloaded from the object store"))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		key, sum, err := d.signer.verify(r.URL.Query(), time.Now())
		if err != nil {
			httpapi.WriteProblem(ctx, log, w, r, err)
			return
		}
		o, err := d.Get(ctx, key, sum)
		if err != nil {
			httpapi.WriteProblem(ctx, log, w, r, err)
			return
		}
		h := w.Header()
		h.Set("Content-Type", o.ContentType)
		h.Set("Content-Length", strconv.Itoa(len(o.Body)))
		h.Set("Content-Disposition", "attachment")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "private, no-store")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(o.Body)
		}
	})
}

// linkSigner signs links with HMAC-SHA256: base?key=…&sha256=…&expires=<unix seconds>&sig=<hex>.
type linkSigner struct {
	key  []byte
	base *url.URL
}

func newLinkSigner(key []byte, base string) (*linkSigner, error) {
	if len(key) < 32 {
		return nil, errors.New("docstore: a store that cannot presign links needs a link key of at least 32 bytes")
	}
	u, err := url.Parse(base)
	if err != nil || !u.IsAbs() || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("docstore: the link base %q is not an absolute URL without a query", base)
	}
	return &linkSigner{key: append([]byte(nil), key...), base: u}, nil
}

func (s *linkSigner) mac(key, sum string, exp int64) []byte {
	m := hmac.New(sha256.New, s.key)
	fmt.Fprintf(m, "csi-docstore-link-v1\n%s\n%s\n%d", key, sum, exp)
	return m.Sum(nil)
}

func (s *linkSigner) sign(key, sum string, exp time.Time) string {
	q := url.Values{}
	q.Set("key", key)
	q.Set("sha256", sum)
	q.Set("expires", strconv.FormatInt(exp.Unix(), 10))
	q.Set("sig", hex.EncodeToString(s.mac(key, sum, exp.Unix())))
	u := *s.base
	u.RawQuery = q.Encode()
	return u.String()
}

// verify returns the key and sum of a signed link's query, or a Forbidden error.
func (s *linkSigner) verify(q url.Values, now time.Time) (key, sum string, err error) {
	key, sum = q.Get("key"), q.Get("sha256")
	exp, perr := strconv.ParseInt(q.Get("expires"), 10, 64)
	sig, herr := hex.DecodeString(q.Get("sig"))
	if perr != nil || herr != nil || !hmac.Equal(sig, s.mac(key, sum, exp)) {
		return "", "", errs.E(errs.Forbidden, "the download link is not valid")
	}
	if now.Unix() >= exp {
		return "", "", errs.E(errs.Forbidden, "the download link has expired")
	}
	return key, sum, nil
}
