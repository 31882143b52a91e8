package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/auth/authtest"
	"github.com/csi-lombardia/csi/pkg/docstore/docstoretest"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

// TestAuditVerifyEndpoint tampers with the trail as someone with the database owner's rights
// would (triggers disabled) and checks that GET /v1/audit:verify, served by the skeleton's
// handler, names what was done, with checkpoints in a directory and in a real S3 server.
func TestAuditVerifyEndpoint(t *testing.T) {
	stores := []struct {
		name   string
		config func(t *testing.T) AuditConfig
	}{
		{"dir", func(t *testing.T) AuditConfig { return testAuditConfig(t) }},
		{"s3", func(t *testing.T) AuditConfig {
			c := testAuditConfig(t)
			c.S3 = docstoretest.Config(t)
			return c
		}},
	}
	type want struct {
		ok       bool
		records  int64
		problems []audit.ProblemView
	}
	cases := []struct {
		name   string
		tamper string // $1: the chain id
		want   func(chain string, ids []uuid.UUID) want
	}{
		{"untouched", ``, func(string, []uuid.UUID) want { return want{ok: true, records: 10} }},
		{"changed record", `UPDATE audit_records SET actor_id = 'mallory' WHERE chain_id = $1 AND seq = 4`,
			func(c string, ids []uuid.UUID) want {
				return want{records: 10, problems: []audit.ProblemView{{ChainID: c, Seq: 4, RecordID: ids[3].String(),
					What: audit.ProblemHashMismatch, Detail: "stored hash does not match the record's fields and chain", Scope: audit.ScopeAmbito}}}
			}},
		{"changed record of another ambito", `UPDATE audit_records SET actor_id = 'mallory' WHERE chain_id = $1 AND seq = 5`,
			func(c string, ids []uuid.UUID) want {
				return want{records: 10, problems: []audit.ProblemView{{ChainID: c, Seq: 5, What: audit.ProblemHashMismatch, Scope: audit.ScopeOtherAmbito}}}
			}},
		{"deleted record", `DELETE FROM audit_records WHERE chain_id = $1 AND seq = 6`,
			func(c string, ids []uuid.UUID) want {
				return want{records: 9, problems: []audit.ProblemView{{ChainID: c, Seq: 6, What: audit.ProblemMissingRecord,
					Detail: "seq 6 to 6 missing", Scope: audit.ScopeChain}}}
			}},
		{"truncated tail", `DELETE FROM audit_records WHERE chain_id = $1 AND seq > 7; DELETE FROM audit_chains WHERE chain_id = $1;
INSERT INTO audit_chains SELECT chain_id, now(), seq, hash FROM audit_records WHERE chain_id = $1 AND seq = 7`,
			func(c string, ids []uuid.UUID) want {
				return want{records: 7, problems: []audit.ProblemView{{ChainID: c, Seq: 8, What: audit.ProblemTruncatedTail, Scope: audit.ScopeChain}}}
			}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			for _, tt := range cases {
				t.Run(tt.name, func(t *testing.T) {
					ctx := context.Background()
					pool := pgtest.New(t, audit.Migrations)
					cfg := st.config(t)
					// The process that wrote the trail, stopped (its last checkpoint written).
					writer := New(Base{Service: "apptest", Audit: cfg}, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), pool)
					log, err := writer.OpenAudit(ctx)
					if err != nil {
						t.Fatal(err)
					}
					ids := make([]uuid.UUID, 10)
					for i := range ids {
						ids[i] = uuid.Must(uuid.NewV7())
						ambito := "a-1"
						if i == 4 {
							ambito = "a-2"
						}
						if err := log.Write(ctx, audit.Record{ID: ids[i], ActorID: "op-1", AmbitoID: ambito, Action: "citizen.read",
							ResourceType: "citizen", ResourceID: "c-1", Outcome: audit.OutcomeSuccess}); err != nil {
							t.Fatal(err)
						}
					}
					if err := log.Close(ctx); err != nil {
						t.Fatal(err)
					}
					if tt.tamper != "" {
						script := `ALTER TABLE audit_records DISABLE TRIGGER USER; ALTER TABLE audit_chains DISABLE TRIGGER USER;` +
							strings.ReplaceAll(tt.tamper, "$1", "'"+log.ChainID().String()+"'")
						if _, err := pool.Exec(ctx, script, pgx.QueryExecModeSimpleProtocol); err != nil {
							t.Fatalf("tamper: %v", err)
						}
					}

					// The process now serving, which verifies (its own chain is still empty).
					a := New(Base{Service: "apptest", Audit: cfg}, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), pool)
					if _, err := a.OpenAudit(ctx); err != nil {
						t.Fatal(err)
					}
					iss := authtest.New(t)
					srv := httptest.NewServer(a.Handler(iss.Verifier(), func(*httpapi.Mux) {}))
					t.Cleanup(srv.Close)
					tok := iss.Token(t, auth.Claims{Subject: "po-1", Role: auth.RolePrivacyOfficer, AmbitoID: "a-1", OrgID: "o-1", Kind: auth.KindOperator})
					req, _ := http.NewRequest("GET", srv.URL+"/v1/audit:verify", nil)
					req.Header.Set("Authorization", "Bearer "+tok)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					defer resp.Body.Close()
					if resp.StatusCode != 200 {
						b, _ := io.ReadAll(resp.Body)
						t.Fatalf("GET /v1/audit:verify = %d %s", resp.StatusCode, b)
					}
					var got audit.VerifyResponse
					if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
						t.Fatal(err)
					}
					w := tt.want(log.ChainID().String(), ids)
					for i := range got.Problems {
						if w.problems[i].What == audit.ProblemTruncatedTail && got.Problems[i].Detail != "" {
							got.Problems[i].Detail = "" // names the checkpoint's time
						}
					}
					if diff := cmp.Diff(got.Problems, w.problems, cmp.Comparer(func(a, b []audit.ProblemView) bool {
						return len(a) == len(b) && (len(a) == 0 || cmp.Equal(a, b))
					})); diff != "" {
						t.Errorf("problems (-got +want):\n%s", diff)
					}
					if got.OK != w.ok || got.Records != w.records || !got.Checkpoints.Enabled || got.Checkpoints.Chains != 1 {
						t.Errorf("ok %v, %d records, checkpoints %+v; want ok %v, %d records, 1 checkpoint",
							got.OK, got.Records, got.Checkpoints, w.ok, w.records)
					}
				})
			}
		})
	}
}

func testAuditConfig(t *testing.T) AuditConfig {
	key := make([]byte, audit.CheckpointSeedSize)
	for i := range key {
		key[i] = byte(i)
	}
	return AuditConfig{CheckpointKey: key, CheckpointPrefix: "audit/apptest/", CheckpointDir: t.TempDir()}
}
