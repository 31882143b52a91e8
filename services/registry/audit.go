package registry

import (
	"context"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cursor"
)

// AuditTrail returns who read or changed a citizen's record, newest first (the privacy officer).
func (s *Service) AuditTrail(ctx context.Context, q AuditQuery) (cursor.Page[audit.Record], error) {
	c, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return cursor.Page[audit.Record]{}, err
	}
	// A citizen of another ambito (or none) is a 404, as everywhere else, not an empty trail.
	if _, err := s.store.GetCitizen(ctx, ambitoID, q.CitizenID, false); err != nil {
		return cursor.Page[audit.Record]{}, err
	}
	return audit.Read(ctx, s.audit, c, audit.Filter{CitizenID: q.CitizenID.String(), Limit: q.Limit, Cursor: q.Cursor}, q.CitizenID.String(), nil)
}
