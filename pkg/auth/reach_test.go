package auth

import (
	"errors"
	"testing"

	"github.com/csi-lombardia/csi/pkg/errs"
)

func TestReachOf(t *testing.T) {
	current := func(istat string) bool { return istat == "015146" }
	for _, tc := range []struct {
		name    string
		c       Claims
		want    Reach
		ok      bool
		refused bool
	}{
		{"machine client", Claims{Kind: KindClient, Role: RoleClient}, Reach{Wide: true}, true, false},
		{"planning office", Claims{Kind: KindOperator, Role: RolePlanningOffice, OrgKind: "azienda"}, Reach{Wide: true}, true, false},
		{"azienda's social worker", Claims{Kind: KindOperator, Role: RoleSocialWorker, OrgKind: "azienda"}, Reach{Wide: true}, true, false},
		{"comune's administrative", Claims{Kind: KindOperator, Role: RoleAdministrative, OrgKind: "comune", ISTATCode: "015146"}, Reach{ISTAT: "015146"}, true, false},
		{"comune's token without a current comune", Claims{Kind: KindOperator, Role: RoleSocialWorker, OrgKind: "comune", ISTATCode: "999999"}, Reach{}, false, true},
		{"cooperative", Claims{Kind: KindOperator, Role: RoleEducator, OrgKind: "cooperativa"}, Reach{}, false, false},
		{"privacy officer", Claims{Kind: KindOperator, Role: RolePrivacyOfficer, OrgKind: "azienda"}, Reach{}, false, false},
		{"ATS", Claims{Kind: KindOperator, Role: RoleATSMonitor, OrgKind: "ats"}, Reach{}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, ok, err := ReachOf(tc.c, current)
			var e *errs.Error
			if refused := errors.As(err, &e) && e.Kind == errs.Forbidden; refused != tc.refused {
				t.Fatalf("ReachOf error = %v, want refused %v", err, tc.refused)
			}
			if r != tc.want || ok != tc.ok {
				t.Errorf("ReachOf = %+v, %v; want %+v, %v", r, ok, tc.want, tc.ok)
			}
		})
	}
}
