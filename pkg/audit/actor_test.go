package audit_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
)

func TestBy(t *testing.T) {
	c := auth.Claims{Subject: "op-1", Kind: auth.KindOperator, AmbitoID: "amb-1", OrgID: "org-1", Role: auth.RoleSocialWorker}
	want := audit.Record{ActorID: "op-1", ActorOrg: "org-1", ActorRole: "social_worker", AmbitoID: "amb-1"}
	if diff := cmp.Diff(audit.By(c), want); diff != "" {
		t.Errorf("By() (-got +want):\n%s", diff)
	}
}
