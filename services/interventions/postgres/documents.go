package postgres

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/services/interventions"
)

const docCols = `d.id, d.ambito_id, d.authorization_id, a.citizen_id, d.kind, d.filename, d.content_type, d.size, d.sha256,
	d.object_key, d.encrypted, d.uploaded_by, d.uploaded_at`

func scanDocument(r pgx.Row, d *interventions.Document) error {
	var by []byte
	if err := r.Scan(&d.ID, &d.AmbitoID, &d.AuthorizationID, &d.CitizenID, &d.Kind, &d.Filename, &d.ContentType, &d.Size, &d.SHA256,
		&d.ObjectKey, &d.Encrypted, &by, &d.UploadedAt); err != nil {
		return err
	}
	return json.Unmarshal(by, &d.UploadedBy)
}

// CreateDocument implements interventions.Store.
func (s *Store) CreateDocument(ctx context.Context, d interventions.Document) error {
	by, err := json.Marshal(d.UploadedBy)
	if err != nil {
		return err
	}
	_, err = s.DB.Exec(ctx, `INSERT INTO documents (id, ambito_id, authorization_id, kind, filename, content_type, size, sha256,
		object_key, encrypted, uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		d.ID, d.AmbitoID, d.AuthorizationID, d.Kind, d.Filename, d.ContentType, d.Size, d.SHA256, d.ObjectKey, d.Encrypted, by, d.UploadedAt)
	return pgdb.Translate(err)
}

// GetDocument implements interventions.Store.
func (s *Store) GetDocument(ctx context.Context, ambitoID, id uuid.UUID) (interventions.Document, error) {
	var d interventions.Document
	err := scanDocument(s.DB.QueryRow(ctx, `SELECT `+docCols+` FROM documents d JOIN authorizations a ON a.id = d.authorization_id
		WHERE d.ambito_id = $1 AND d.id = $2`, ambitoID, id), &d)
	return d, pgdb.NotFound(err, "document")
}

// ListDocuments implements interventions.Store.
func (s *Store) ListDocuments(ctx context.Context, ambitoID, authorizationID uuid.UUID, before *uuid.UUID, limit int) ([]interventions.Document, error) {
	rows, err := s.DB.Query(ctx, `SELECT `+docCols+` FROM documents d JOIN authorizations a ON a.id = d.authorization_id
		WHERE d.ambito_id = $1 AND d.authorization_id = $2 AND ($3::uuid IS NULL OR d.id < $3)
		ORDER BY d.id DESC LIMIT $4`, ambitoID, authorizationID, before, limit)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, d *interventions.Document) error { return scanDocument(r, d) })
}
