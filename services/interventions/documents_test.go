package interventions_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/docstore"
	"github.com/csi-lombardia/csi/pkg/docstore/docstoretest"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/interventions"
)

// Documents of each accepted type, and one that is not (a Windows executable).
var (
	pdfDoc  = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	pngDoc  = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{7}, 40)...)
	jpegDoc = append([]byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"), bytes.Repeat([]byte{9}, 40)...)
	exeDoc  = append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xFF\xFF"), bytes.Repeat([]byte{0}, 40)...)
)

// linkBase is where the directory store's links of the tests point; download rewrites it to
// the suite's server.
const linkBase = "http://interventions.test" + interventions.DownloadPath

// dirDocuments are Documents in a fresh directory, their links signed for linkBase.
func dirDocuments(t testing.TB, cfg docstore.DocumentsConfig) *docstore.Documents {
	d, err := docstore.NewDir(filepath.Join(t.TempDir(), "documents"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.LinkKey, cfg.LinkBase = bytes.Repeat([]byte("k"), 32), linkBase
	docs, err := docstore.NewDocuments(d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// withS3 is the option of a suite whose documents are in the bucket of cfg; it returns the
// store too, for the test to look into the bucket.
func withS3(t testing.TB, cfg docstore.S3Config, dc docstore.DocumentsConfig) (func(*suite), *docstore.S3) {
	store, err := docstore.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := docstore.NewDocuments(store, dc)
	if err != nil {
		t.Fatal(err)
	}
	return func(s *suite) { s.docs = docs }, store
}

// upload posts body as a document of kind on authorization id (201 required).
func (s *suite) upload(token string, id uuid.UUID, kind string, body []byte, ctype string, headers ...string) interventions.Document {
	s.T.Helper()
	var d interventions.Document
	s.Must(201, s.Do("POST", "/v1/authorizations/"+id.String()+"/documents?kind="+kind, token, servicetest.Raw{Body: body, ContentType: ctype}, &d, headers...))
	return d
}

// form is a multipart form with the document in its part "file".
func form(t testing.TB, field, filename, ctype string, body []byte) servicetest.Raw {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="`+field+`"; filename="`+filename+`"`)
	h.Set("Content-Type", ctype)
	p, err := w.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	p.Write(body)
	w.Close()
	return servicetest.Raw{Body: b.Bytes(), ContentType: w.FormDataContentType()}
}

func get(t testing.TB, u string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// objectKey is the object key of document id, read from the database.
func (s *suite) objectKey(id uuid.UUID) string {
	s.T.Helper()
	var key string
	if err := s.App.Pool.QueryRow(context.Background(), `SELECT object_key FROM documents WHERE id = $1`, id).Scan(&key); err != nil {
		s.T.Fatal(err)
	}
	return key
}

// TestDocumentsRoundTripS3: documents go to the real S3 server of the tests and come back
// through presigned links with their SHA-256; a retry with the same Idempotency-Key stores
// nothing twice; a link is audited with the citizen; a tampered object is never linked.
func TestDocumentsRoundTripS3(t *testing.T) {
	opt, store := withS3(t, docstoretest.Config(t), docstore.DocumentsConfig{})
	s := newSuite(t, opt)
	edu, sw := s.tok(auth.RoleEducator), s.tok(auth.RoleSocialWorker)
	a := s.active(s.body())

	d := s.upload(edu, a.ID, "signed_timesheet", pdfDoc, "application/pdf", "Idempotency-Key", "timesheet-1")
	if d.ContentType != docstore.PDF || d.Size != int64(len(pdfDoc)) || d.SHA256 != sum(pdfDoc) || d.Kind != "signed_timesheet" ||
		d.AuthorizationID != a.ID || d.UploadedBy.Role != string(auth.RoleEducator) || d.Filename != "signed_timesheet.pdf" {
		t.Errorf("uploaded = %+v", d)
	}
	resp := s.Do("POST", "/v1/authorizations/"+a.ID.String()+"/documents?kind=signed_timesheet", edu,
		servicetest.Raw{Body: pdfDoc, ContentType: "application/pdf"}, nil, "Idempotency-Key", "timesheet-1")
	s.Must(201, resp)
	var again interventions.Document
	servicetest.Decode(t, resp, &again)
	if again.ID != d.ID || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry = %s (replayed %q), want the first answer %s", again.ID, resp.Header.Get("Idempotent-Replayed"), d.ID)
	}
	var m interventions.Document
	s.Must(201, s.Do("POST", "/v1/authorizations/"+a.ID.String()+"/documents?kind=report", sw, form(t, "file", "relazione.png", "image/png", pngDoc), &m))
	if m.Filename != "relazione.png" || m.ContentType != docstore.PNG || m.SHA256 != sum(pngDoc) {
		t.Errorf("multipart upload = %+v", m)
	}
	if n := s.Count(`SELECT count(*) FROM documents WHERE authorization_id = $1`, a.ID); n != 2 {
		t.Errorf("%d documents, want 2 (the retry stored nothing)", n)
	}
	if keys, err := store.List(context.Background(), "interventions/"); err != nil || len(keys) != 2 {
		t.Errorf("objects in the bucket = %v, %v; want 2", keys, err)
	}
	if n := s.Count(`SELECT count(*) FROM outbox WHERE type = 'document.added' AND aggregate_id = $1 AND payload->>'authorization_id' = $2`, d.ID.String(), a.ID.String()); n != 1 {
		t.Errorf("%d document.added events, want 1", n)
	}

	var page struct{ Items []interventions.Document }
	s.Must(200, s.Do("GET", "/v1/authorizations/"+a.ID.String()+"/documents", sw, nil, &page))
	if len(page.Items) != 2 || page.Items[0].ID != m.ID || page.Items[1].SHA256 != sum(pdfDoc) {
		t.Errorf("list = %+v", page.Items)
	}

	var l interventions.DocumentLink
	s.Must(200, s.Do("POST", "/v1/documents/"+d.ID.String()+"/link", sw, nil, &l))
	if ttl := time.Until(l.ExpiresAt); ttl <= 0 || ttl > docstore.MaxLinkTTL {
		t.Errorf("the link expires in %v", ttl)
	}
	status, got := get(t, l.URL)
	if status != 200 || sum(got) != d.SHA256 {
		t.Errorf("download = %d, sha256 %s; want 200 with %s", status, sum(got), d.SHA256)
	}
	if n := s.Count(`SELECT count(*) FROM audit_records WHERE action = 'document.link' AND resource_id = $1 AND citizen_id = $2`,
		d.ID.String(), a.CitizenID.String()); n != 1 {
		t.Errorf("%d audit records of the link, want 1", n)
	}
	if n := s.Count(`SELECT count(*) FROM audit_records WHERE action = 'document.upload' AND citizen_id = $1`, a.CitizenID.String()); n != 2 {
		t.Errorf("%d audit records of uploads, want 2", n)
	}

	// Someone changes the object in the bucket: the link is refused, and not audited.
	if err := store.Put(context.Background(), s.objectKey(d.ID), append(bytes.Clone(pdfDoc), "tampered"...), docstore.PDF); err != nil {
		t.Fatal(err)
	}
	s.Must(500, s.Do("POST", "/v1/documents/"+d.ID.String()+"/link", sw, nil, nil))
	if n := s.Count(`SELECT count(*) FROM audit_records WHERE action = 'document.link' AND resource_id = $1`, d.ID.String()); n != 1 {
		t.Errorf("%d audit records of links, want 1: the refused link is not handed out", n)
	}
}

// TestDocumentLinkExpires: a link dies at expires_at (S3 refuses it).
func TestDocumentLinkExpires(t *testing.T) {
	opt, _ := withS3(t, docstoretest.Config(t), docstore.DocumentsConfig{LinkTTL: time.Second})
	s := newSuite(t, opt)
	sm := s.tok(auth.RoleServiceManager)
	a := s.active(s.body())
	d := s.upload(sm, a.ID, "service_agreement", jpegDoc, "image/jpeg")
	var l interventions.DocumentLink
	s.Must(200, s.Do("POST", "/v1/documents/"+d.ID.String()+"/link", sm, nil, &l))
	if status, got := get(t, l.URL); status != 200 || !bytes.Equal(got, jpegDoc) {
		t.Fatalf("fresh link = %d", status)
	}
	time.Sleep(time.Until(l.ExpiresAt) + 1100*time.Millisecond)
	if status, got := get(t, l.URL); status != http.StatusForbidden || bytes.Equal(got, jpegDoc) {
		t.Errorf("expired link = %d, want 403 without the document", status)
	}
}

// TestDocumentsDirLinks: with a directory store the service serves its own signed links; a
// tampered file is never served, a tampered link refused.
func TestDocumentsDirLinks(t *testing.T) {
	s := newSuite(t)
	sm := s.tok(auth.RoleServiceManager)
	a := s.active(s.body())
	d := s.upload(s.tok(auth.RoleCoopCoordinator), a.ID, "report", pdfDoc, "application/octet-stream")
	var l interventions.DocumentLink
	s.Must(200, s.Do("POST", "/v1/documents/"+d.ID.String()+"/link", sm, nil, &l))
	u := strings.Replace(l.URL, "http://interventions.test", s.Srv.URL, 1)
	if status, got := get(t, u); status != 200 || sum(got) != d.SHA256 {
		t.Errorf("download = %d, want 200 with the document", status)
	}
	if status, _ := get(t, strings.Replace(u, "sig=", "sig=0", 1)); status != http.StatusForbidden {
		t.Errorf("tampered link = %d, want 403", status)
	}
}

// TestDocumentRules: what an upload takes and refuses, each refusal naming its field, nothing
// written.
func TestDocumentRules(t *testing.T) {
	s := newSuite(t, func(s *suite) { s.docs = dirDocuments(t, docstore.DocumentsConfig{MaxBytes: 4096}) })
	edu := s.tok(auth.RoleEducator)
	a := s.active(s.body())
	path := "/v1/authorizations/" + a.ID.String() + "/documents"
	big := append(bytes.Clone(pdfDoc), bytes.Repeat([]byte("x"), 5000)...)
	ok := []struct {
		name, query string
		body        servicetest.Raw
		ctype       string
	}{
		{"PDF", "?kind=report&filename=relazione.pdf", servicetest.Raw{Body: pdfDoc, ContentType: "application/pdf"}, docstore.PDF},
		{"PDF declared as octet-stream: stored as PDF", "?kind=other", servicetest.Raw{Body: pdfDoc, ContentType: "application/octet-stream"}, docstore.PDF},
		{"JPEG declared image/jpeg; charset", "?kind=other", servicetest.Raw{Body: jpegDoc, ContentType: "image/jpeg"}, docstore.JPEG},
		{"PNG in a form", "?kind=report", form(t, "file", "scan.png", "image/png", pngDoc), docstore.PNG},
	}
	for _, c := range ok {
		var d interventions.Document
		s.Must(201, s.Do("POST", path+c.query, edu, c.body, &d))
		if d.ContentType != c.ctype {
			t.Errorf("%s: stored as %s, want %s", c.name, d.ContentType, c.ctype)
		}
	}
	before := s.Count(`SELECT count(*) FROM documents`)
	for _, c := range []struct {
		name, query string
		body        servicetest.Raw
		headers     []string
		status      int
		field       string
	}{
		{"a PDF declared as PNG", "?kind=report&filename=x.png", servicetest.Raw{Body: pdfDoc, ContentType: "image/png"}, nil, 400, "file"},
		{"an executable", "?kind=report", servicetest.Raw{Body: exeDoc, ContentType: "application/octet-stream"}, nil, 400, "file"},
		{"an executable in a form", "?kind=report", form(t, "file", "setup.exe", "application/pdf", exeDoc), nil, 400, "file"},
		{"text", "?kind=report", servicetest.Raw{Body: []byte("hello"), ContentType: "text/plain"}, nil, 415, "Content-Type"},
		{"empty", "?kind=report", servicetest.Raw{Body: []byte{}, ContentType: "application/pdf"}, nil, 400, "file"},
		{"too large", "?kind=report", servicetest.Raw{Body: big, ContentType: "application/pdf"}, nil, 413, "file"},
		{"too large with a key", "?kind=report", servicetest.Raw{Body: big, ContentType: "application/pdf"}, []string{"Idempotency-Key", "big-1"}, 413, "file"},
		{"far too large with a key", "?kind=report", servicetest.Raw{Body: bytes.Repeat(pdfDoc, 3000), ContentType: "application/pdf"},
			[]string{"Idempotency-Key", "big-2"}, 413, "file"},
		{"no kind", "", servicetest.Raw{Body: pdfDoc, ContentType: "application/pdf"}, nil, 400, "kind"},
		{"unknown kind", "?kind=photo", servicetest.Raw{Body: pdfDoc, ContentType: "application/pdf"}, nil, 400, "kind"},
		{"filename with a control character", "?kind=report&filename=a%07b.pdf", servicetest.Raw{Body: pdfDoc, ContentType: "application/pdf"}, nil, 400, "filename"},
		{"a form without the part file", "?kind=report", form(t, "document", "x.pdf", "application/pdf", pdfDoc), nil, 400, "file"},
	} {
		resp := s.Do("POST", path+c.query, edu, c.body, nil, c.headers...)
		if resp.StatusCode != c.status {
			b, _ := io.ReadAll(resp.Body)
			t.Errorf("%s: %d, want %d: %s", c.name, resp.StatusCode, c.status, b)
			continue
		}
		if f := servicetest.DecodeProblem(t, resp).Fields(); len(f) != 1 || f[0] != c.field {
			t.Errorf("%s: fields %v, want [%s]", c.name, f, c.field)
		}
	}
	if after := s.Count(`SELECT count(*) FROM documents`); after != before {
		t.Errorf("the refused uploads wrote %d documents", after-before)
	}
}

// TestDocumentScope: another cooperative, and another comune's operators, get 404 for the
// documents of an authorization they do not see.
func TestDocumentScope(t *testing.T) {
	s := newSuite(t)
	sm := s.tok(auth.RoleServiceManager)
	a := s.active(s.body())
	d := s.upload(sm, a.ID, "service_agreement", pdfDoc, "application/pdf")
	other := uuid.Must(uuid.NewV7())
	outsiders := map[string]string{
		"educator of another cooperative":    s.Operator(auth.RoleEducator, other, "cooperativa", ""),
		"coordinator of another cooperative": s.Operator(auth.RoleCoopCoordinator, other, "cooperativa", ""),
		"social worker of another comune":    s.Operator(auth.RoleSocialWorker, uuid.Must(uuid.NewV7()), "comune", "015027"),
		"service manager of another comune":  s.Operator(auth.RoleServiceManager, uuid.Must(uuid.NewV7()), "comune", "015027"),
	}
	for who, tok := range outsiders {
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/v1/authorizations/" + a.ID.String() + "/documents?kind=report", servicetest.Raw{Body: pdfDoc, ContentType: "application/pdf"}},
			{"GET", "/v1/authorizations/" + a.ID.String() + "/documents", nil},
			{"POST", "/v1/documents/" + d.ID.String() + "/link", nil},
		} {
			if resp := s.Do(c.method, c.path, tok, c.body, nil); resp.StatusCode != 404 {
				t.Errorf("%s: %s %s = %d, want 404", who, c.method, c.path, resp.StatusCode)
			}
		}
	}
	if n := s.Count(`SELECT count(*) FROM documents`); n != 1 {
		t.Errorf("%d documents, want 1", n)
	}
	s.Must(404, s.Do("POST", "/v1/documents/"+uuid.NewString()+"/link", sm, nil, nil))
}

// TestDocumentsS3Down: with the object store unreachable an upload is a 503 with Retry-After,
// and nothing is written: no metadata without its object.
func TestDocumentsS3Down(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more
	opt, _ := withS3(t, docstore.S3Config{Endpoint: addr, Bucket: "documents", AccessKey: "k", SecretKey: "secret-key"}, docstore.DocumentsConfig{})
	s := newSuite(t, opt)
	edu := s.tok(auth.RoleEducator)
	a := s.active(s.body())
	for _, key := range []string{"", "down-1"} {
		start := time.Now()
		resp := s.Do("POST", "/v1/authorizations/"+a.ID.String()+"/documents?kind=report", edu,
			servicetest.Raw{Body: pdfDoc, ContentType: "application/pdf"}, nil, "Idempotency-Key", key)
		s.Must(503, resp)
		if resp.Header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("the upload took %v to answer 503", took)
		}
	}
	if n := s.Count(`SELECT count(*) FROM documents`); n != 0 {
		t.Errorf("%d documents without their object", n)
	}
	if n := s.Count(`SELECT count(*) FROM outbox WHERE type = 'document.added'`); n != 0 {
		t.Errorf("%d document.added events", n)
	}
	if n := s.Count(`SELECT count(*) FROM audit_records WHERE action = 'document.upload'`); n != 0 {
		t.Errorf("%d audit records of uploads", n)
	}
}

// TestDocumentsCommitFails: when the metadata cannot be committed after the object was written
// (the database refuses the row), the object is deleted again: no object without metadata.
func TestDocumentsCommitFails(t *testing.T) {
	opt, store := withS3(t, docstoretest.Config(t), docstore.DocumentsConfig{})
	s := newSuite(t, opt)
	edu := s.tok(auth.RoleEducator)
	a := s.active(s.body())
	ctx := context.Background()
	if _, err := s.App.Pool.Exec(ctx, `CREATE FUNCTION test_refuse_documents() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'the test refuses documents'; END $$;
		CREATE TRIGGER test_refuse_documents BEFORE INSERT ON documents FOR EACH ROW EXECUTE FUNCTION test_refuse_documents()`); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"", "commit-1"} {
		resp := s.Do("POST", "/v1/authorizations/"+a.ID.String()+"/documents?kind=report", edu,
			servicetest.Raw{Body: pdfDoc, ContentType: "application/pdf"}, nil, "Idempotency-Key", key)
		if resp.StatusCode < 500 {
			t.Errorf("upload with the commit failing = %d, want a 5xx", resp.StatusCode)
		}
	}
	if keys, err := store.List(ctx, ""); err != nil || len(keys) != 0 {
		t.Errorf("objects left in the bucket = %v, %v; want none", keys, err)
	}
	if n := s.Count(`SELECT count(*) FROM documents`); n != 0 {
		t.Errorf("%d documents", n)
	}
	if _, err := s.App.Pool.Exec(ctx, `DROP TRIGGER test_refuse_documents ON documents`); err != nil {
		t.Fatal(err)
	}
	d := s.upload(edu, a.ID, "report", pdfDoc, "application/pdf", "Idempotency-Key", "commit-1")
	if keys, err := store.List(ctx, ""); err != nil || len(keys) != 1 || keys[0] != s.objectKey(d.ID) {
		t.Errorf("objects = %v, %v; want the one of the document", keys, err)
	}
}

// TestDocumentsRolledBackWithTheRequest: with an Idempotency-Key the metadata commits with the
// stored answer; when a later step of the request fails (here its audit record is refused), the
// request's transaction rolls back and the object is deleted with it: no object without
// metadata. Without a key the metadata was committed: object and metadata stay together.
func TestDocumentsRolledBackWithTheRequest(t *testing.T) {
	opt, store := withS3(t, docstoretest.Config(t), docstore.DocumentsConfig{})
	s := newSuite(t, opt)
	edu := s.tok(auth.RoleEducator)
	a := s.active(s.body())
	ctx := context.Background()
	if _, err := s.App.Pool.Exec(ctx, `CREATE FUNCTION test_refuse_upload_audit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.action = 'document.upload' THEN RAISE EXCEPTION 'the test refuses the audit record'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER test_refuse_upload_audit BEFORE INSERT ON audit_records FOR EACH ROW EXECUTE FUNCTION test_refuse_upload_audit()`); err != nil {
		t.Fatal(err)
	}
	resp := s.Do("POST", "/v1/authorizations/"+a.ID.String()+"/documents?kind=report", edu,
		servicetest.Raw{Body: pdfDoc, ContentType: "application/pdf"}, nil, "Idempotency-Key", "rolled-back-1")
	if resp.StatusCode < 500 {
		t.Fatalf("upload with its audit refused = %d, want a 5xx", resp.StatusCode)
	}
	if keys, err := store.List(ctx, ""); err != nil || len(keys) != 0 {
		t.Errorf("objects left in the bucket = %v, %v; want none", keys, err)
	}
	if n := s.Count(`SELECT count(*) FROM documents`); n != 0 {
		t.Errorf("%d documents", n)
	}
	resp = s.Do("POST", "/v1/authorizations/"+a.ID.String()+"/documents?kind=report", edu, servicetest.Raw{Body: pdfDoc, ContentType: "application/pdf"}, nil)
	if resp.StatusCode < 500 {
		t.Fatalf("upload with its audit refused = %d, want a 5xx", resp.StatusCode)
	}
	keys, err := store.List(ctx, "")
	if n := s.Count(`SELECT count(*) FROM documents`); err != nil || n != 1 || len(keys) != 1 {
		t.Errorf("without a key: %d documents, objects %v (%v); want one of each", n, keys, err)
	}
}
