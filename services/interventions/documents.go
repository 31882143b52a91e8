package interventions

import (
	"context"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/docstore"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// The kinds of document kept on an authorization.
const (
	DocServiceAgreement = "service_agreement" // the agreement with the family and the cooperative
	DocSignedTimesheet  = "signed_timesheet"  // a month's visits signed by the family
	DocReport           = "report"            // a report of the cooperative or the social worker
	DocOther            = "other"
)

// DocumentKinds are the kinds of document, in the order the contract lists them.
var DocumentKinds = []string{DocServiceAgreement, DocSignedTimesheet, DocReport, DocOther}

// maxFilenameLen bounds a document's file name.
const maxFilenameLen = 200

// DownloadPath is where the service serves the links of a directory store (docstore.Handler);
// with S3 the links point at the bucket.
const DownloadPath = "/v1/documents:download"

// Document is the metadata of a document kept on an authorization: the bytes are in the object
// store (pkg/docstore), checked against SHA256 on every read. Never changed nor deleted.
type Document struct {
	ID              uuid.UUID `json:"id"`
	AuthorizationID uuid.UUID `json:"authorization_id"`
	Kind            string    `json:"kind"`
	Filename        string    `json:"filename"`
	ContentType     string    `json:"content_type"` // sniffed: application/pdf, image/png, image/jpeg
	Size            int64     `json:"size"`
	SHA256          string    `json:"sha256"`
	Encrypted       bool      `json:"encrypted"` // the object store confirmed server-side encryption
	UploadedBy      Operator  `json:"uploaded_by"`
	UploadedAt      time.Time `json:"uploaded_at"`

	AmbitoID  uuid.UUID `json:"-"`
	CitizenID uuid.UUID `json:"-"`
	ObjectKey string    `json:"-"`
}

// DocumentUpload is an upload as the transport read it: the body is read (up to the size
// limit) by the service.
type DocumentUpload struct {
	Kind     string
	Filename string
	Declared string // the media type the client declared ("" when none)
	Body     io.Reader
}

// DocumentLink is a short-lived download link to a document.
type DocumentLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// DocumentStore is what the documents need of the database.
type DocumentStore interface {
	// OnRollback runs fn if the request's transaction (that of an Idempotency-Key) does not
	// commit after all: the document's object is then deleted again.
	OnRollback(ctx context.Context, fn func(context.Context))
	CreateDocument(ctx context.Context, d Document) error
	GetDocument(ctx context.Context, ambitoID, id uuid.UUID) (Document, error)
	// ListDocuments lists an authorization's documents, newest first, before before.
	ListDocuments(ctx context.Context, ambitoID, authorizationID uuid.UUID, before *uuid.UUID, limit int) ([]Document, error)
}

// errStoreDown answers an upload or a link while the object store is unreachable.
func storeDown(err error) error {
	if errs.KindOf(err) == errs.Unavailable {
		return &errs.Error{Kind: errs.Unavailable, Message: "the document store is unavailable: retry later", RetryAfter: 5 * time.Second, Err: err}
	}
	return err
}

// UploadDocument keeps a document on an authorization the caller may see (otherwise 404): the
// object first, then its metadata and the event document.added in one transaction; when the
// metadata cannot be committed the object is deleted again (docstore.Documents.Upload), and an
// unreachable store is a 503 with Retry-After, with nothing written.
func (s *Service) UploadDocument(ctx context.Context, authorizationID uuid.UUID, in DocumentUpload) (Document, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Document{}, err
	}
	var f errs.Fields
	f.Check(slices.Contains(DocumentKinds, in.Kind), "kind", "must be one of %s", strings.Join(DocumentKinds, ", "))
	in.Filename = path.Base(strings.ReplaceAll(in.Filename, "\\", "/"))
	if in.Filename == "." || in.Filename == "/" {
		in.Filename = ""
	}
	valid.Line(&f, "filename", in.Filename, false, maxFilenameLen)
	if err := f.Err(); err != nil {
		return Document{}, err
	}
	a, err := s.visible(ctx, sc, authorizationID)
	if err != nil {
		return Document{}, err
	}
	body, err := s.docs.ReadBody(in.Body)
	if err != nil {
		return Document{}, err
	}
	d := Document{ID: newID(), AuthorizationID: a.ID, Kind: in.Kind, Filename: in.Filename, UploadedBy: sc.operator(), UploadedAt: s.now(),
		AmbitoID: a.AmbitoID, CitizenID: a.CitizenID}
	key := docstore.NewKey("interventions/" + a.AmbitoID.String() + "/" + a.ID.String())
	_, err = s.docs.Upload(ctx, key, body, in.Declared, func(ctx context.Context, doc docstore.Document) error {
		d.ContentType, d.Size, d.SHA256, d.Encrypted, d.ObjectKey = doc.MediaType, doc.Size, doc.SHA256, doc.Encrypted, doc.Key
		if d.Filename == "" {
			d.Filename = in.Kind + extension(doc.MediaType)
		}
		err := s.store.InTx(ctx, func(tx Store) error {
			if err := tx.CreateDocument(ctx, d); err != nil {
				return err
			}
			return tx.AppendEvents(ctx, events.Of(a.AmbitoID, "document.added", "document", d.ID, documentEvent{ID: d.ID,
				AuthorizationID: a.ID, CitizenID: a.CitizenID, CooperativeID: a.CooperativeID, Kind: d.Kind, ContentType: d.ContentType, Size: d.Size}))
		})
		if err == nil {
			// With an Idempotency-Key the metadata commits with the stored answer, after this
			// handler: should that not happen (a later step fails), the object goes too.
			s.store.OnRollback(ctx, func(ctx context.Context) {
				if err := s.docs.Delete(ctx, doc.Key); err != nil {
					s.log.Warn("delete the object of a document rolled back", "key", doc.Key, "err", err)
				}
			})
		}
		return err
	})
	if err != nil {
		return Document{}, storeDown(err)
	}
	return d, s.record(ctx, docRec(sc, "document.upload", a, d))
}

func extension(mediaType string) string {
	switch mediaType {
	case docstore.PDF:
		return ".pdf"
	case docstore.PNG:
		return ".png"
	}
	return ".jpg"
}

// ListDocuments lists the documents of an authorization the caller may see, newest first.
func (s *Service) ListDocuments(ctx context.Context, authorizationID uuid.UUID, limit int, cur string) (cursor.Page[Document], error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return cursor.Page[Document]{}, err
	}
	a, err := s.visible(ctx, sc, authorizationID)
	if err != nil {
		return cursor.Page[Document]{}, err
	}
	list := cursor.For("documents", a.ID.String())
	before, err := list.DecodeID(cur)
	if err != nil {
		return cursor.Page[Document]{}, err
	}
	items, err := s.store.ListDocuments(ctx, sc.ambitoID, a.ID, before, limit+1)
	if err != nil {
		return cursor.Page[Document]{}, err
	}
	p := cursor.PageOf(items, limit, list, func(d Document) string { return d.ID.String() })
	return p, s.record(ctx, rec(sc, "document.list", a, map[string]any{"count": len(p.Items)}))
}

// DocumentLink returns a short-lived download link to a document of an authorization the caller
// may see (otherwise 404). The bytes are checked against the document's SHA-256 first (a
// document that no longer matches is never linked: 500), and the link is written in the audit
// trail before it is answered: it is an access to a person's document.
func (s *Service) DocumentLink(ctx context.Context, id uuid.UUID) (DocumentLink, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return DocumentLink{}, err
	}
	d, err := s.store.GetDocument(ctx, sc.ambitoID, id)
	if err != nil {
		return DocumentLink{}, err
	}
	a, err := s.visible(ctx, sc, d.AuthorizationID)
	if errs.KindOf(err) == errs.NotFound {
		return DocumentLink{}, errs.E(errs.NotFound, "document not found")
	} else if err != nil {
		return DocumentLink{}, err
	}
	l, err := s.docs.Link(ctx, d.ObjectKey, d.SHA256, 0)
	if err != nil {
		return DocumentLink{}, storeDown(err)
	}
	r := docRec(sc, "document.link", a, d)
	r.Details["expires_at"] = l.Expires.UTC().Format(time.RFC3339)
	if err := s.record(ctx, r); err != nil {
		return DocumentLink{}, err
	}
	return DocumentLink{URL: l.URL, ExpiresAt: l.Expires.UTC()}, nil
}

// docRec is an audit record of the caller's action on document d of authorization a.
func docRec(sc scope, action string, a Authorization, d Document) audit.Record {
	r := audit.By(sc.claims, action, "document", d.ID.String())
	r.CitizenID = a.CitizenID.String()
	r.Details = map[string]any{"authorization_id": a.ID.String(), "kind": d.Kind, "sha256": d.SHA256, "size": d.Size}
	return r
}

// documentEvent is the payload of document.added: ids and codes, never the document.
type documentEvent struct {
	ID              uuid.UUID `json:"id"`
	AuthorizationID uuid.UUID `json:"authorization_id"`
	CitizenID       uuid.UUID `json:"citizen_id"`
	CooperativeID   uuid.UUID `json:"cooperative_id"`
	Kind            string    `json:"kind"`
	ContentType     string    `json:"content_type"`
	Size            int64     `json:"size"`
}
