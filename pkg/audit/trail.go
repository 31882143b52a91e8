package audit

import (
	"context"

	"github.com/csi-lombardia/csi/pkg/auth"
	pkgcursor "github.com/csi-lombardia/csi/pkg/cursor"
)

// Trail is what a service needs of its audit trail: writing records (Write returns once they are
// committed) and reading them back for the privacy officer. *Log implements it.
type Trail interface {
	Write(ctx context.Context, recs ...Record) error
	List(ctx context.Context, f Filter) ([]Record, string, error)
}

// By is the record of a successful action of the caller c on a resource: who (subject,
// organization, role) and in which ambito come from c's claims.
func By(c auth.Claims, action, resourceType, resourceID string) Record {
	return Record{ActorID: c.Subject, ActorOrg: c.OrgID, ActorRole: string(c.Role), AmbitoID: c.AmbitoID,
		Action: action, ResourceType: resourceType, ResourceID: resourceID, Outcome: OutcomeSuccess}
}

// Read returns a page of the trail of c's ambito selected by f (newest first), once the reading
// itself is recorded: action audit.read on resourceID (the citizen whose trail was read, or ""
// for the ambito's), with details.
func Read(ctx context.Context, t Trail, c auth.Claims, f Filter, resourceID string, details map[string]any) (pkgcursor.Page[Record], error) {
	f.AmbitoID = c.AmbitoID
	items, next, err := t.List(ctx, f)
	if err != nil {
		return pkgcursor.Page[Record]{}, err
	}
	if items == nil {
		items = []Record{}
	}
	r := By(c, "audit.read", "audit", resourceID)
	r.Details = details
	return pkgcursor.Page[Record]{Items: items, NextCursor: next}, t.Write(ctx, r)
}
