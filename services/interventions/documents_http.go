package interventions

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

// uploadOverhead is what a multipart form may add to a document's bytes (boundaries, part
// headers): the idempotency middleware, which reads the whole body first, takes the document
// limit plus this.
const uploadOverhead = 64 << 10

// uploadMedia are the media types an upload's body may have: a document itself (the type is
// sniffed from the bytes, and a declared type that disagrees is refused), or a form with the
// document in its part "file".
var uploadMedia = []string{"application/pdf", "image/png", "image/jpeg", "application/octet-stream", "multipart/form-data"}

type uploadRequest struct {
	ID    uuid.UUID
	Input DocumentUpload
}

type documentRequest struct{ ID uuid.UUID }

// decodeUpload reads POST /v1/authorizations/{id}/documents?kind=…&filename=…: a raw body of
// the document's media type, or multipart/form-data with the part "file" (its file name and
// Content-Type are the document's). The bytes are read by the service, which bounds them.
func decodeUpload(_ context.Context, r *http.Request) (any, error) {
	id, err := httpapi.PathID(r, "id")
	if err != nil {
		return nil, err
	}
	mt, err := httpapi.RequireMediaType(r, uploadMedia...)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	in := DocumentUpload{Kind: q.Get("kind"), Filename: q.Get("filename"), Body: r.Body}
	if mt != "multipart/form-data" {
		in.Declared = r.Header.Get("Content-Type")
		return uploadRequest{ID: id, Input: in}, nil
	}
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		return nil, errs.InvalidField("Content-Type", "must be multipart/form-data with a boundary")
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, errs.InvalidField("file", "is required: the form part holding the document")
		}
		if err != nil {
			return nil, errs.InvalidField("body", "is not a readable multipart form")
		}
		if p.FormName() != "file" {
			continue
		}
		if in.Filename == "" {
			in.Filename = p.FileName()
		}
		in.Declared, in.Body = p.Header.Get("Content-Type"), p
		return uploadRequest{ID: id, Input: in}, nil
	}
}

func decodeDocumentID(_ context.Context, r *http.Request) (any, error) {
	id, err := httpapi.PathID(r, "id")
	return documentRequest{ID: id}, err
}

// limitUpload answers 413 at once to an upload whose declared length is beyond what the
// idempotency middleware would read (max; 0: no bound), before it reads a byte.
func limitUpload(max int64) httpapi.Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if max > 0 && r.ContentLength > max {
				httpapi.WriteProblem(r.Context(), nil, w, r, &errs.Error{Kind: errs.TooLarge, Message: "the document is too large",
					Fields: []errs.FieldError{{Field: "file", Message: "the request is larger than the document limit"}}})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// docRoles keep and read an authorization's documents: the comune's social service and the
// cooperative's operators (the scope says which authorizations).
var docRoles = auth.AnyRole(auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleCoopCoordinator, auth.RoleEducator, auth.RoleASA, auth.RoleOSS)

func documentEndpoints(e *Endpoints, s *Service) {
	e.UploadLimit = s.docs.MaxBytes() + uploadOverhead
	e.UploadDocument = guard(docRoles, func(ctx context.Context, req any) (any, error) {
		r := req.(uploadRequest)
		d, err := s.UploadDocument(ctx, r.ID, r.Input)
		return httpapi.Created{Body: d, Location: "/v1/authorizations/" + r.ID.String() + "/documents"}, err
	})
	e.ListDocuments = guard(docRoles, func(ctx context.Context, req any) (any, error) {
		r := req.(pageRequest)
		return s.ListDocuments(ctx, r.ID, r.Limit, r.Cursor)
	})
	e.DocumentLink = guard(docRoles, func(ctx context.Context, req any) (any, error) {
		return s.DocumentLink(ctx, req.(documentRequest).ID)
	})
}
