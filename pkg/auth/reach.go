package auth

import (
	"slices"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// MunicipalRoles are the roles of the comuni's and the azienda's staff.
var MunicipalRoles = []Role{RoleServiceManager, RoleSocialWorker, RoleAdministrative}

// Reach is the part of an ambito's people that a caller's records extend to (DESIGN.md
// "Authorization"): the whole ambito, or the people of one comune.
type Reach struct {
	Wide  bool   // machine clients, the Ufficio di Piano, the azienda's staff
	ISTAT string // a comune's staff: its comune's ISTAT code
}

// ReachOf is the reach of c: wide for a machine client, the planning office and the azienda's
// municipal roles; the comune of a comune's municipal roles, whose ISTAT code identity puts in
// the token (refused as Forbidden unless comune says it names a current comune). ok is false
// for every other caller (cooperatives, monitors, the privacy officer, the ambito's
// administrator): what they may see is the service's to say.
func ReachOf(c Claims, comune func(istat string) bool) (r Reach, ok bool, err error) {
	switch {
	case c.Kind == KindClient, c.Role == RolePlanningOffice:
		return Reach{Wide: true}, true, nil
	case slices.Contains(MunicipalRoles, c.Role) && c.OrgKind == "azienda":
		return Reach{Wide: true}, true, nil
	case slices.Contains(MunicipalRoles, c.Role) && c.OrgKind == "comune":
		if !comune(c.ISTATCode) {
			return Reach{}, false, errs.E(errs.Forbidden, "this token names no current comune")
		}
		return Reach{ISTAT: c.ISTATCode}, true, nil
	}
	return Reach{}, false, nil
}
