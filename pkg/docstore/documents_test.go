package docstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/csi-lombardia/csi/pkg/docstore"
	"github.com/csi-lombardia/csi/pkg/docstore/docstoretest"
	"github.com/csi-lombardia/csi/pkg/errs"
)

// Small but real-looking documents: what matters is their first bytes.
var (
	pdfDoc  = []byte("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	pngDoc  = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), make([]byte, 40)...)
	jpegDoc = append([]byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"), make([]byte, 40)...)
	textDoc = []byte("verbale della riunione, scritto in un file di testo rinominato .pdf\n")
)

var linkKey = bytes.Repeat([]byte("k"), 32)

// TestCheck: only PDF, PNG and JPEG, sniffed from the bytes, within the size limit; every refusal
// names the field.
func TestCheck(t *testing.T) {
	d, err := docstore.NewDocuments(newDir(t), docstore.DocumentsConfig{MaxBytes: 100, Field: "file",
		LinkKey: linkKey, LinkBase: "http://localhost/v1/documents:download"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		body     []byte
		declared string
		want     string    // the sniffed type, when accepted
		wantKind errs.Kind // when refused
	}{
		{name: "pdf", body: pdfDoc, declared: "application/pdf", want: docstore.PDF},
		{name: "png", body: pngDoc, declared: "image/png", want: docstore.PNG},
		{name: "jpeg", body: jpegDoc, declared: "image/jpeg", want: docstore.JPEG},
		{name: "jpeg declared with the common alias", body: jpegDoc, declared: "image/jpg", want: docstore.JPEG},
		{name: "nothing declared", body: pngDoc, declared: "", want: docstore.PNG},
		{name: "declared as octet-stream", body: pdfDoc, declared: "application/octet-stream", want: docstore.PDF},
		{name: "declared with parameters", body: pdfDoc, declared: "application/pdf; name=patto.pdf", want: docstore.PDF},
		{name: "text file renamed .pdf", body: textDoc, declared: "application/pdf", wantKind: errs.Invalid},
		{name: "text file declared as text", body: textDoc, declared: "text/plain", wantKind: errs.Invalid},
		{name: "png declared as pdf", body: pngDoc, declared: "application/pdf", wantKind: errs.Invalid},
		{name: "pdf declared as jpeg", body: pdfDoc, declared: "image/jpeg", wantKind: errs.Invalid},
		{name: "unreadable declared type", body: pdfDoc, declared: "application/", wantKind: errs.Invalid},
		{name: "html with a pdf further on", body: []byte("<html>%PDF-1.7"), wantKind: errs.Invalid},
		{name: "truncated png magic", body: []byte("\x89PNG\r\n"), wantKind: errs.Invalid},
		{name: "empty", body: nil, declared: "application/pdf", wantKind: errs.Invalid},
		{name: "too large", body: append([]byte("%PDF-1.7\n"), make([]byte, 92)...), declared: "application/pdf", wantKind: errs.TooLarge},
		{name: "exactly the limit", body: append([]byte("%PDF-1.7\n"), make([]byte, 91)...), declared: "application/pdf", want: docstore.PDF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := d.Check(c.body, c.declared)
			if c.want != "" {
				if err != nil || got != c.want {
					t.Errorf("Check = %q, %v; want %q", got, err, c.want)
				}
				return
			}
			if errs.KindOf(err) != c.wantKind {
				t.Fatalf("Check = %q, %v; want a %v error", got, err, c.wantKind)
			}
			var e *errs.Error
			if !errors.As(err, &e) || len(e.Fields) != 1 || e.Fields[0].Field != "file" {
				t.Errorf("Check error %v does not name the field file", err)
			}
		})
	}
}

// TestReadBody reads up to the limit and refuses more without reading it all.
func TestReadBody(t *testing.T) {
	d, err := docstore.NewDocuments(newDir(t), docstore.DocumentsConfig{MaxBytes: 10,
		LinkKey: linkKey, LinkBase: "http://localhost/dl"})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := d.ReadBody(strings.NewReader("0123456789")); err != nil || len(b) != 10 {
		t.Errorf("ReadBody of 10 bytes = %d bytes, %v", len(b), err)
	}
	r := &countingReader{r: strings.NewReader(strings.Repeat("x", 1<<20))}
	if _, err := d.ReadBody(r); errs.KindOf(err) != errs.TooLarge {
		t.Errorf("ReadBody of 1 MiB = %v, want TooLarge", err)
	}
	if r.n > 4096 {
		t.Errorf("ReadBody read %d bytes of a body over its limit of 10", r.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestNewDocumentsConfig: a Dir needs a link key and base; lifetimes are bounded.
func TestNewDocumentsConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  docstore.DocumentsConfig
	}{
		{"no link key", docstore.DocumentsConfig{LinkBase: "http://localhost/dl"}},
		{"short link key", docstore.DocumentsConfig{LinkKey: []byte("short"), LinkBase: "http://localhost/dl"}},
		{"relative link base", docstore.DocumentsConfig{LinkKey: linkKey, LinkBase: "/dl"}},
		{"link lifetime over the maximum", docstore.DocumentsConfig{LinkKey: linkKey, LinkBase: "http://localhost/dl", LinkTTL: time.Hour}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := docstore.NewDocuments(newDir(t), c.cfg); err == nil {
				t.Error("NewDocuments accepted the configuration")
			}
		})
	}
}

// documentsEnv is Documents over one store, with what the tests need around it.
type documentsEnv struct {
	docs      *docstore.Documents
	store     docstore.Store
	encrypted bool                                  // the store encrypts at rest
	sse       func(t *testing.T, key string) string // the encryption the store reports for key
}

// TestDocuments runs the documents' contract on the directory and on the real S3 server.
func TestDocuments(t *testing.T) {
	envs := []struct {
		name string
		open func(t *testing.T) documentsEnv
	}{
		{"dir", func(t *testing.T) documentsEnv {
			// The service mounts Handler at its download route; here a test server does.
			var h http.Handler
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
			t.Cleanup(srv.Close)
			store := newDir(t)
			d, err := docstore.NewDocuments(store, docstore.DocumentsConfig{LinkKey: linkKey, LinkBase: srv.URL + "/v1/documents:download"})
			if err != nil {
				t.Fatal(err)
			}
			h = d.Handler(slog.New(slog.NewTextHandler(io.Discard, nil)))
			return documentsEnv{docs: d, store: store}
		}},
		{"s3", func(t *testing.T) documentsEnv {
			cfg := docstoretest.Config(t)
			store, err := docstore.NewS3(cfg)
			if err != nil {
				t.Fatal(err)
			}
			d, err := docstore.NewDocuments(store, docstore.DocumentsConfig{})
			if err != nil {
				t.Fatal(err)
			}
			c, err := minio.New(cfg.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")})
			if err != nil {
				t.Fatal(err)
			}
			sse := func(t *testing.T, key string) string {
				info, err := c.StatObject(context.Background(), cfg.Bucket, key, minio.StatObjectOptions{})
				if err != nil {
					t.Fatal(err)
				}
				return info.Metadata.Get("X-Amz-Server-Side-Encryption")
			}
			return documentsEnv{docs: d, store: store, encrypted: true, sse: sse}
		}},
	}
	for _, e := range envs {
		t.Run(e.name, func(t *testing.T) { documentsContract(t, e.open(t)) })
	}
}

func documentsContract(t *testing.T, env documentsEnv) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d := env.docs

	t.Run("round trip with checksum", func(t *testing.T) {
		for _, body := range [][]byte{pdfDoc, pngDoc, jpegDoc} {
			key := "rt/" + docstore.Sniff(body)[strings.Index(docstore.Sniff(body), "/")+1:]
			doc, err := d.Put(ctx, key, body, "")
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(body)
			want := docstore.Document{Key: key, MediaType: docstore.Sniff(body), Size: int64(len(body)),
				SHA256: hex.EncodeToString(sum[:]), Encrypted: env.encrypted}
			if diff := cmp.Diff(doc, want); diff != "" {
				t.Errorf("Put (-got +want):\n%s", diff)
			}
			got, err := d.Get(ctx, key, doc.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, docstore.Object{Key: key, Body: body, ContentType: want.MediaType}); diff != "" {
				t.Errorf("Get (-got +want):\n%s", diff)
			}
		}
	})
	t.Run("refused document stores nothing", func(t *testing.T) {
		if _, err := d.Put(ctx, "refused/doc", textDoc, "application/pdf"); errs.KindOf(err) != errs.Invalid {
			t.Fatalf("Put of a text file = %v, want Invalid", err)
		}
		if keys, err := env.store.List(ctx, "refused/"); err != nil || len(keys) != 0 {
			t.Errorf("List after a refused Put = %q, %v; want none", keys, err)
		}
	})
	t.Run("server-side encryption", func(t *testing.T) {
		doc, err := d.Put(ctx, "sse/doc", pdfDoc, PDF)
		if err != nil {
			t.Fatal(err)
		}
		if doc.Encrypted != env.encrypted {
			t.Errorf("Encrypted = %v, want %v", doc.Encrypted, env.encrypted)
		}
		if env.sse != nil {
			if got := env.sse(t, "sse/doc"); got != "AES256" {
				t.Errorf("the stored object reports server-side encryption %q, want AES256 (SSE-S3)", got)
			}
		}
	})
	t.Run("corrupted object detected on read", func(t *testing.T) {
		doc, err := d.Put(ctx, "corrupt/doc", pdfDoc, PDF)
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Replace(pdfDoc, []byte("Catalog"), []byte("Catalag"), 1)
		if err := env.store.Put(ctx, "corrupt/doc", bad, PDF); err != nil { // behind the layer's back
			t.Fatal(err)
		}
		got, err := d.Get(ctx, "corrupt/doc", doc.SHA256)
		if !errors.Is(err, docstore.ErrIntegrity) || errs.KindOf(err) != errs.Internal {
			t.Errorf("Get of a corrupted document = %v, want ErrIntegrity of kind Internal", err)
		}
		if got.Body != nil {
			t.Errorf("Get of a corrupted document returned %d bytes", len(got.Body))
		}
		// Nor does a link hand the corrupted bytes out: refused when linking (S3) or serving (Dir).
		l, err := d.Link(ctx, "corrupt/doc", doc.SHA256, 0)
		if err == nil {
			status, body := download(t, l.URL)
			if status != http.StatusInternalServerError || bytes.Equal(body, bad) {
				t.Errorf("the link to a corrupted document answered %d with %q, want 500 without the bytes", status, body)
			}
		} else if !errors.Is(err, docstore.ErrIntegrity) {
			t.Errorf("Link to a corrupted document = %v, want ErrIntegrity", err)
		}
	})
	t.Run("get with another checksum", func(t *testing.T) {
		if _, err := d.Put(ctx, "sum/doc", pngDoc, ""); err != nil {
			t.Fatal(err)
		}
		other := sha256.Sum256(jpegDoc)
		if _, err := d.Get(ctx, "sum/doc", hex.EncodeToString(other[:])); !errors.Is(err, docstore.ErrIntegrity) {
			t.Errorf("Get with another SHA-256 = %v, want ErrIntegrity", err)
		}
		if _, err := d.Get(ctx, "sum/doc", "not-hex"); err == nil {
			t.Error("Get with a malformed SHA-256 succeeded")
		}
	})
	t.Run("missing document", func(t *testing.T) {
		sum := sha256.Sum256(pdfDoc)
		if _, err := d.Get(ctx, "missing/doc", hex.EncodeToString(sum[:])); errs.KindOf(err) != errs.NotFound {
			t.Errorf("Get of a missing document = %v, want NotFound", err)
		}
	})
	t.Run("links", func(t *testing.T) {
		doc, err := d.Put(ctx, "link/doc", pdfDoc, PDF)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Put(ctx, "link/other", jpegDoc, JPEG); err != nil {
			t.Fatal(err)
		}
		l, err := d.Link(ctx, "link/doc", doc.SHA256, 0)
		if err != nil {
			t.Fatal(err)
		}
		if ttl := time.Until(l.Expires); ttl <= 0 || ttl > docstore.MaxLinkTTL {
			t.Errorf("the link expires in %v, want within %v", ttl, docstore.MaxLinkTTL)
		}
		status, body := download(t, l.URL)
		if status != http.StatusOK || !bytes.Equal(body, pdfDoc) {
			t.Errorf("plain GET of the link = %d, %q; want 200 with the document", status, body)
		}
		resp, err := http.Get(l.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != PDF {
			t.Errorf("the link answers Content-Type %q, want %q", ct, PDF)
		}
		tried := 0
		for name, tampered := range map[string]string{
			"another key":  strings.Replace(l.URL, "link%2Fdoc", "link%2Fother", 1),
			"another path": strings.Replace(l.URL, "link/doc", "link/other", 1),
			"signature":    tamperSignature(t, l.URL),
			"later expiry": laterExpiry(t, l.URL),
		} {
			if tampered == l.URL {
				continue // this store's links have no such part
			}
			tried++
			if status, body := download(t, tampered); status != http.StatusForbidden || bytes.Equal(body, jpegDoc) {
				t.Errorf("tampered link (%s) answered %d, want 403 without the document", name, status)
			}
		}
		if tried < 3 {
			t.Errorf("only %d tampered links tried", tried)
		}
		if _, err := d.Link(ctx, "link/doc", doc.SHA256, time.Hour); err == nil {
			t.Error("Link accepted a lifetime of an hour")
		}
	})
	t.Run("expired link", func(t *testing.T) {
		doc, err := d.Put(ctx, "expired/doc", pngDoc, PNG)
		if err != nil {
			t.Fatal(err)
		}
		l, err := d.Link(ctx, "expired/doc", doc.SHA256, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(l.Expires) + 1100*time.Millisecond)
		if status, _ := download(t, l.URL); status != http.StatusForbidden {
			t.Errorf("expired link answered %d, want 403", status)
		}
	})
	t.Run("delete", func(t *testing.T) {
		doc, err := d.Put(ctx, "delete/doc", jpegDoc, JPEG)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Delete(ctx, "delete/doc"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Get(ctx, "delete/doc", doc.SHA256); errs.KindOf(err) != errs.NotFound {
			t.Errorf("Get after Delete = %v, want NotFound", err)
		}
	})
	t.Run("upload commits the metadata after the object", func(t *testing.T) {
		var committed docstore.Document
		doc, err := d.Upload(ctx, "upload/ok", pdfDoc, PDF, func(ctx context.Context, doc docstore.Document) error {
			if _, err := env.store.Get(ctx, doc.Key); err != nil {
				t.Errorf("commit called before the object is stored: %v", err)
			}
			committed = doc
			return nil
		})
		if err != nil || doc != committed {
			t.Fatalf("Upload = %+v, %v; committed %+v", doc, err, committed)
		}
		if _, err := d.Get(ctx, "upload/ok", doc.SHA256); err != nil {
			t.Errorf("Get of the uploaded document: %v", err)
		}
	})
	t.Run("upload whose commit fails leaves no object", func(t *testing.T) {
		failed := errs.E(errs.Unavailable, "the database is down")
		_, err := d.Upload(ctx, "upload/failed", pdfDoc, PDF, func(context.Context, docstore.Document) error { return failed })
		if !errors.Is(err, failed) {
			t.Errorf("Upload = %v, want the commit's error", err)
		}
		if keys, err := env.store.List(ctx, "upload/"); err != nil || !cmp.Equal(keys, []string{"upload/ok"}) {
			t.Errorf("objects after a failed commit = %q, %v; want only upload/ok", keys, err)
		}
	})
	t.Run("upload of a refused document commits nothing", func(t *testing.T) {
		_, err := d.Upload(ctx, "upload/text", textDoc, "", func(context.Context, docstore.Document) error {
			t.Error("commit called for a refused document")
			return nil
		})
		if errs.KindOf(err) != errs.Invalid {
			t.Errorf("Upload of a text file = %v, want Invalid", err)
		}
	})
}

// TestNewKey: fresh valid keys under the prefix, in creation order.
func TestNewKey(t *testing.T) {
	a, b := docstore.NewKey("interventions/0190"), docstore.NewKey("interventions/0190")
	if err := docstore.ValidKey(a); err != nil || !strings.HasPrefix(a, "interventions/0190/") {
		t.Errorf("NewKey = %q (%v), want a valid key under interventions/0190/", a, err)
	}
	if a >= b {
		t.Errorf("NewKey gave %q then %q, want increasing keys", a, b)
	}
}

// PDF, PNG, JPEG shorten the declared types in the tests.
const (
	PDF  = docstore.PDF
	PNG  = docstore.PNG
	JPEG = docstore.JPEG
)

// TestS3PublicEndpoint: links point at the public endpoint, and work there.
func TestS3PublicEndpoint(t *testing.T) {
	cfg := docstoretest.Config(t)
	host, port, err := net.SplitHostPort(cfg.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if host != "127.0.0.1" {
		t.Fatalf("the test needs the S3 server on 127.0.0.1, not %s", host)
	}
	cfg.PublicEndpoint = net.JoinHostPort("localhost", port)
	store, err := docstore.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := docstore.NewDocuments(store, docstore.DocumentsConfig{LinkTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	doc, err := d.Put(ctx, "public/doc", pdfDoc, PDF)
	if err != nil {
		t.Fatal(err)
	}
	l, err := d.Link(ctx, "public/doc", doc.SHA256, 0)
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := url.Parse(l.URL); u.Host != cfg.PublicEndpoint {
		t.Errorf("the link points at %s, want %s", u.Host, cfg.PublicEndpoint)
	}
	if status, body := download(t, l.URL); status != http.StatusOK || !bytes.Equal(body, pdfDoc) {
		t.Errorf("plain GET of the public link = %d, %q; want 200 with the document", status, body)
	}
}

// TestS3Unreachable: a store that does not answer is Unavailable, quickly, and distinct from a
// missing document; an upload against it commits nothing.
func TestS3Unreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more
	store, err := docstore.NewS3(docstore.S3Config{Endpoint: addr, Bucket: "documents", AccessKey: "k", SecretKey: "secret-key"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := docstore.NewDocuments(store, docstore.DocumentsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sum := sha256.Sum256(pdfDoc)
	calls := []struct {
		name string
		call func() error
	}{
		{"put", func() error { _, err := d.Put(ctx, "u/doc", pdfDoc, PDF); return err }},
		{"get", func() error { _, err := d.Get(ctx, "u/doc", hex.EncodeToString(sum[:])); return err }},
		{"link", func() error { _, err := d.Link(ctx, "u/doc", hex.EncodeToString(sum[:]), 0); return err }},
		{"delete", func() error { return d.Delete(ctx, "u/doc") }},
		{"upload", func() error {
			_, err := d.Upload(ctx, "u/doc", pdfDoc, PDF, func(context.Context, docstore.Document) error {
				t.Error("commit called although the object was not stored")
				return nil
			})
			return err
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			err := c.call()
			if errs.KindOf(err) != errs.Unavailable {
				t.Errorf("%s = %v, want Unavailable", c.name, err)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("%s took %v to report the store unavailable", c.name, took)
			}
		})
	}
}

func newDir(t *testing.T) *docstore.Dir {
	d, err := docstore.NewDir(filepath.Join(t.TempDir(), "documents"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// download GETs u as a browser would, without credentials.
func download(t *testing.T, u string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// tamperSignature flips the last digit of the link's signature (sig or X-Amz-Signature).
func tamperSignature(t *testing.T, link string) string {
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for _, name := range []string{"sig", "X-Amz-Signature"} {
		if s := q.Get(name); s != "" {
			last := "0"
			if s[len(s)-1] == '0' {
				last = "1"
			}
			q.Set(name, s[:len(s)-1]+last)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// laterExpiry extends the link's lifetime (expires or X-Amz-Expires) without signing it again.
func laterExpiry(t *testing.T, link string) string {
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("expires") != "" {
		q.Set("expires", "9999999999")
	}
	if q.Get("X-Amz-Expires") != "" {
		q.Set("X-Amz-Expires", "604800")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// TestDocumentsHandler: the Dir's download handler answers only GET and HEAD of a signed link,
// as an attachment the browser must not sniff; over S3 it answers nothing.
func TestDocumentsHandler(t *testing.T) {
	base := "http://docs.example/v1/documents:download"
	d, err := docstore.NewDocuments(newDir(t), docstore.DocumentsConfig{LinkKey: linkKey, LinkBase: base})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	doc, err := d.Put(ctx, "h/doc", pngDoc, PNG)
	if err != nil {
		t.Fatal(err)
	}
	l, err := d.Link(ctx, "h/doc", doc.SHA256, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(l.URL, base+"?") {
		t.Errorf("the link %s is not under %s", l.URL, base)
	}
	h := d.Handler(nil)
	cases := []struct {
		name       string
		method     string
		url        string
		wantStatus int
		wantBody   []byte
	}{
		{"get", http.MethodGet, l.URL, http.StatusOK, pngDoc},
		{"head", http.MethodHead, l.URL, http.StatusOK, nil},
		{"post", http.MethodPost, l.URL, http.StatusMethodNotAllowed, nil},
		{"no query", http.MethodGet, base, http.StatusForbidden, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(c.method, c.url, nil))
			if w.Code != c.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, c.wantStatus)
			}
			if c.wantBody != nil && !bytes.Equal(w.Body.Bytes(), c.wantBody) {
				t.Errorf("body = %q, want the document", w.Body.Bytes())
			}
			if c.wantStatus == http.StatusOK {
				want := map[string]string{"Content-Type": PNG, "Content-Disposition": "attachment",
					"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
				for k, v := range want {
					if got := w.Header().Get(k); got != v {
						t.Errorf("%s = %q, want %q", k, got, v)
					}
				}
			}
		})
	}

	s3, err := docstore.NewDocuments(docstoretest.S3(t), docstore.DocumentsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	s3.Handler(nil).ServeHTTP(w, httptest.NewRequest(http.MethodGet, l.URL, nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("the handler over S3 answered %d, want 404", w.Code)
	}
}
