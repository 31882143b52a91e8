package identity

import (
	"context"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cursor"
)

// AuditTrail returns the ambito's audit records, newest first (the privacy officer). Reading the
// trail is itself recorded.
func (s *Service) AuditTrail(ctx context.Context, q AuditQuery) (cursor.Page[audit.Record], error) {
	c, _, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return cursor.Page[audit.Record]{}, err
	}
	return audit.Read(ctx, s.audit, c, audit.Filter{ActorID: q.ActorID, From: q.From, To: q.To, Limit: q.Limit, Cursor: q.Cursor},
		"", map[string]any{"actor_id": q.ActorID})
}
