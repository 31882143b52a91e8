package audit

import "github.com/csi-lombardia/csi/pkg/auth"

// By returns a record of an action by the authenticated caller c: who (ActorID), in which
// organization and role, in which ambito. The caller fills in what was done, on what and with
// which outcome.
func By(c auth.Claims) Record {
	return Record{ActorID: c.Subject, ActorOrg: c.OrgID, ActorRole: string(c.Role), AmbitoID: c.AmbitoID}
}
