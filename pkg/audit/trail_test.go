package audit_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

// TestRead: the privacy officer reads the trail of their own ambito only, and the reading is
// itself recorded, as done by them.
func TestRead(t *testing.T) {
	ctx := context.Background()
	l := newLog(t, pgtest.New(t, audit.Migrations))
	ambito := uuid.NewString()
	worker := auth.Claims{Subject: "op-1", OrgID: "comune-1", Role: auth.RoleSocialWorker, AmbitoID: ambito}
	read := audit.By(worker, "citizen.read", "citizen", "c-1")
	read.CitizenID = "c-1"
	other := audit.By(auth.Claims{Subject: "op-2", AmbitoID: uuid.NewString()}, "citizen.read", "citizen", "c-1")
	if err := l.Write(ctx, read, other); err != nil {
		t.Fatal(err)
	}
	if read.ActorOrg != "comune-1" || read.ActorRole != "social_worker" || read.Outcome != audit.OutcomeSuccess {
		t.Fatalf("By = %+v", read)
	}
	officer := auth.Claims{Subject: "dpo", OrgID: "azienda", Role: auth.RolePrivacyOfficer, AmbitoID: ambito}
	page, err := audit.Read(ctx, l, officer, audit.Filter{AmbitoID: "ignored: the officer's own", CitizenID: "c-1"}, "c-1", nil)
	if err != nil || len(page.Items) != 1 || page.Items[0].ActorID != "op-1" {
		t.Fatalf("Read = %+v, %v; want the one record of the officer's ambito", page, err)
	}
	page, err = audit.Read(ctx, l, officer, audit.Filter{ActorID: "dpo"}, "", map[string]any{"actor_id": "dpo"})
	if err != nil || len(page.Items) != 1 || page.Items[0].Action != "audit.read" || page.Items[0].ResourceID != "c-1" {
		t.Fatalf("the reading's own record: %+v, %v", page, err)
	}
	empty, err := audit.Read(ctx, l, officer, audit.Filter{ActorID: "nobody"}, "", nil)
	if err != nil || empty.Items == nil || len(empty.Items) != 0 {
		t.Fatalf("an empty trail = %#v, %v; want items []", empty.Items, err)
	}
}
