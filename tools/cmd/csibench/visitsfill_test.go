package main

import (
	"io"
	"testing"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
	"github.com/csi-lombardia/csi/tools/internal/ivload"
)

// The fill spreads its visits over the 20 cooperatives' 300 authorizations each (the statement
// cooperative's and 19 filler copies), never two of one operator at once, and a second run
// adds nothing.
func TestFillVisits(t *testing.T) {
	pool := pgtest.New(t, migrations(t, "interventions")...)
	ctx := t.Context()
	st := ivload.Setup{Ambito: uuid.Must(uuid.NewV7()), StmtCoop: uuid.Must(uuid.NewV7())}
	for range ivload.StmtAuthorizations {
		a := ivload.AuthRef{ID: uuid.Must(uuid.NewV7()), CitizenID: uuid.Must(uuid.NewV7())}
		if _, err := pool.Exec(ctx, `INSERT INTO authorizations (id, ambito_id, istat_code, case_id, citizen_id, cooperative_id, service_type,
			status, data, version, created_at, updated_at) VALUES ($1::uuid, $2, '015146', $1::uuid, $3, $4::uuid, 'SAD', 'active',
			jsonb_build_object('id', $1::text, 'cooperative_id', $4::text), 2, now(), now())`, a.ID, st.Ambito, a.CitizenID, st.StmtCoop); err != nil {
			t.Fatal(err)
		}
		st.StmtAuths = append(st.StmtAuths, a)
	}
	url := pool.Config().ConnString()
	const target = 24_000
	have, took, err := fillVisits(ctx, url, st, target, io.Discard)
	if err != nil || have != target || took == 0 {
		t.Fatalf("fill: %d visits in %s (%v), want %d", have, took, err, target)
	}
	var coops, auths, ops, stmt int
	if err := pool.QueryRow(ctx, `SELECT count(DISTINCT cooperative_id), count(DISTINCT authorization_id), count(DISTINCT operator_id),
		count(*) FILTER (WHERE cooperative_id = $1) FROM visits`, st.StmtCoop).Scan(&coops, &auths, &ops, &stmt); err != nil {
		t.Fatal(err)
	}
	if coops != 20 || auths != 20*300 || ops != 20*19 || stmt != target/20 {
		t.Errorf("the fill: %d cooperatives, %d authorizations, %d operators, %d visits of the statement's cooperative; want 20, 6000, 380, %d",
			coops, auths, ops, stmt, target/20)
	}
	var wrong int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM visits v JOIN authorizations a ON a.id = v.authorization_id
		WHERE a.cooperative_id <> v.cooperative_id OR a.citizen_id <> v.citizen_id OR a.data->>'cooperative_id' <> v.cooperative_id::text`).Scan(&wrong); err != nil || wrong != 0 {
		t.Errorf("%d visits of another cooperative's authorization (%v)", wrong, err)
	}
	if have, took, err = fillVisits(ctx, url, st, target, io.Discard); err != nil || have != target || took != 0 {
		t.Errorf("second fill: %d visits in %s (%v), want %d at once", have, took, err, target)
	}
}
