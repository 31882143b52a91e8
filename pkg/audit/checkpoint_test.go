package audit_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/docstore"
	"github.com/csi-lombardia/csi/pkg/docstore/docstoretest"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

func seed(t *testing.T) []byte {
	s := make([]byte, audit.CheckpointSeedSize)
	if _, err := rand.Read(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// tamper runs statements with the audit triggers disabled, the chain id inlined for $1.
func tamper(t *testing.T, pool *pgxpool.Pool, chain uuid.UUID, script string) {
	t.Helper()
	ctx := context.Background()
	for _, stmt := range []string{`ALTER TABLE audit_records DISABLE TRIGGER USER`, `ALTER TABLE audit_chains DISABLE TRIGGER USER`} {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	script = strings.ReplaceAll(script, "$1", "'"+chain.String()+"'")
	if _, err := pool.Exec(ctx, script, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatalf("tamper: %v", err)
	}
}

// TestCheckpoints writes two chains with checkpoints in a real store (a directory and an S3
// server), tampers with one, and checks what Verify reports with and without the checkpoints.
func TestCheckpoints(t *testing.T) {
	stores := []struct {
		name string
		open func(t *testing.T) docstore.Store
	}{
		{"dir", func(t *testing.T) docstore.Store {
			d, err := docstore.NewDir(filepath.Join(t.TempDir(), "checkpoints"))
			if err != nil {
				t.Fatal(err)
			}
			return d
		}},
		{"s3", func(t *testing.T) docstore.Store { return docstoretest.S3(t) }},
	}
	type result struct {
		problems    func(c uuid.UUID, ids []uuid.UUID) []audit.Problem
		records     int64
		checkpoints int
	}
	cases := []struct {
		name   string
		tamper func(t *testing.T, pool *pgxpool.Pool, store docstore.Store, cps *audit.Checkpoints, chain uuid.UUID)
		// without the checkpoints, and with them
		plain, checked result
	}{
		{
			name:    "untouched",
			tamper:  func(*testing.T, *pgxpool.Pool, docstore.Store, *audit.Checkpoints, uuid.UUID) {},
			plain:   result{records: 13},
			checked: result{records: 13, checkpoints: 2},
		},
		{
			name: "truncated tail",
			tamper: func(t *testing.T, pool *pgxpool.Pool, _ docstore.Store, _ *audit.Checkpoints, c uuid.UUID) {
				tamper(t, pool, c, `DELETE FROM audit_records WHERE chain_id = $1 AND seq > 7;
UPDATE audit_chains SET head_seq = 7, head_hash = (SELECT hash FROM audit_records WHERE chain_id = $1 AND seq = 7) WHERE chain_id = $1`)
			},
			plain: result{records: 10}, // unnoticed without a checkpoint
			checked: result{records: 10, checkpoints: 2, problems: func(c uuid.UUID, _ []uuid.UUID) []audit.Problem {
				return []audit.Problem{{ChainID: c, Seq: 8, What: audit.ProblemTruncatedTail}}
			}},
		},
		{
			name: "whole chain deleted",
			tamper: func(t *testing.T, pool *pgxpool.Pool, _ docstore.Store, _ *audit.Checkpoints, c uuid.UUID) {
				tamper(t, pool, c, `DELETE FROM audit_records WHERE chain_id = $1; DELETE FROM audit_chains WHERE chain_id = $1`)
			},
			plain: result{records: 3},
			checked: result{records: 3, checkpoints: 2, problems: func(c uuid.UUID, _ []uuid.UUID) []audit.Problem {
				return []audit.Problem{{ChainID: c, Seq: 1, What: audit.ProblemTruncatedTail}}
			}},
		},
		{
			name: "record rewritten and chain rehashed",
			tamper: func(t *testing.T, pool *pgxpool.Pool, _ docstore.Store, _ *audit.Checkpoints, c uuid.UUID) {
				tamper(t, pool, c, `UPDATE audit_records SET actor_id = 'mallory' WHERE chain_id = $1 AND seq = 4`)
				if err := audit.Rechain(context.Background(), pool, c); err != nil {
					t.Fatal(err)
				}
			},
			plain: result{records: 13},
			checked: result{records: 13, checkpoints: 2, problems: func(c uuid.UUID, ids []uuid.UUID) []audit.Problem {
				return []audit.Problem{{ChainID: c, Seq: 10, RecordID: ids[9].String(), AmbitoID: "ambito-1", What: audit.ProblemCheckpointMismatch}}
			}},
		},
		{
			name: "checkpoint rewound by someone without the key",
			tamper: func(t *testing.T, _ *pgxpool.Pool, store docstore.Store, cps *audit.Checkpoints, c uuid.UUID) {
				key := cps.Prefix() + c.String() + ".json"
				obj, err := store.Get(context.Background(), key)
				if err != nil {
					t.Fatal(err)
				}
				var m map[string]any
				if err := json.Unmarshal(obj.Body, &m); err != nil {
					t.Fatal(err)
				}
				m["seq"] = 5
				b, _ := json.Marshal(m)
				if err := store.Put(context.Background(), key, b, "application/json"); err != nil {
					t.Fatal(err)
				}
			},
			plain: result{records: 13},
			checked: result{records: 13, checkpoints: 1, problems: func(c uuid.UUID, _ []uuid.UUID) []audit.Problem {
				return []audit.Problem{{ChainID: c, What: audit.ProblemBadCheckpoint}}
			}},
		},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			for _, tt := range cases {
				t.Run(tt.name, func(t *testing.T) {
					ctx := context.Background()
					pool := pgtest.New(t, audit.Migrations)
					store := st.open(t)
					cps, err := audit.NewCheckpoints(store, "audit/test-"+uuid.NewString()[:8], seed(t))
					if err != nil {
						t.Fatal(err)
					}
					l := audit.New(pool, audit.WithCheckpoints(cps, time.Hour))
					other := audit.New(pool, audit.WithCheckpoints(cps, time.Hour))
					recs := make([]audit.Record, 10)
					for i := range recs {
						recs[i] = rec(i)
						recs[i].ID = uuid.Must(uuid.NewV7())
						if err := l.Write(ctx, recs[i]); err != nil {
							t.Fatal(err)
						}
					}
					if err := other.Write(ctx, rec(20), rec(21), rec(22)); err != nil {
						t.Fatal(err)
					}
					// Close writes the last checkpoints.
					for _, log := range []*audit.Log{l, other} {
						if err := log.Close(ctx); err != nil {
							t.Fatal(err)
						}
					}
					tt.tamper(t, pool, store, cps, l.ChainID())

					for _, run := range []struct {
						name string
						opts []audit.VerifyOption
						want result
					}{
						{"without checkpoints", nil, tt.plain},
						{"with checkpoints", []audit.VerifyOption{audit.AgainstCheckpoints(cps)}, tt.checked},
					} {
						rep, err := audit.Verify(ctx, pool, run.opts...)
						if err != nil {
							t.Fatalf("%s: verify: %v", run.name, err)
						}
						var want []audit.Problem
						if run.want.problems != nil {
							want = run.want.problems(l.ChainID(), ids(recs))
						}
						// Details are for humans; the test checks where and what.
						got := make([]audit.Problem, len(rep.Problems))
						for i, p := range rep.Problems {
							if p.Detail == "" {
								t.Errorf("%s: problem %+v has no detail", run.name, p)
							}
							p.Detail = ""
							got[i] = p
						}
						if diff := cmp.Diff(got, want, cmpEmpty); diff != "" {
							t.Errorf("%s: problems (-got +want):\n%s", run.name, diff)
						}
						if rep.Records != run.want.records || rep.Checkpoints != run.want.checkpoints {
							t.Errorf("%s: %d records and %d checkpoints checked, want %d and %d", run.name,
								rep.Records, rep.Checkpoints, run.want.records, run.want.checkpoints)
						}
					}
				})
			}
		})
	}
}

// cmpEmpty treats nil and empty slices alike.
var cmpEmpty = cmp.Comparer(func(a, b []audit.Problem) bool {
	return cmp.Equal(append([]audit.Problem{}, a...), append([]audit.Problem{}, b...))
})

// TestCheckpointSignature: a checkpoint verifies with its public key alone, and not with another
// key; an earlier key is accepted after a rotation.
func TestCheckpointSignature(t *testing.T) {
	ctx := context.Background()
	store, err := docstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	old, err := audit.NewCheckpoints(store, "audit/x", seed(t))
	if err != nil {
		t.Fatal(err)
	}
	cp := audit.Checkpoint{ChainID: uuid.Must(uuid.NewV7()), Seq: 3, Hash: strings.Repeat("ab", 32), Time: time.Now()}
	if err := old.Put(ctx, cp); err != nil {
		t.Fatal(err)
	}
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	rotated, err := audit.NewCheckpoints(store, "audit/x", seed(t), old.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		reader  func() (*audit.Checkpoints, error)
		wantBad bool
	}{
		{"public key alone", func() (*audit.Checkpoints, error) {
			return audit.NewCheckpointReader(store, "audit/x", old.PublicKey())
		}, false},
		{"another key", func() (*audit.Checkpoints, error) { return audit.NewCheckpointReader(store, "audit/x", otherPub) }, true},
		{"rotated, earlier key kept", func() (*audit.Checkpoints, error) { return rotated, nil }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := c.reader()
			if err != nil {
				t.Fatal(err)
			}
			got, bad, err := r.Latest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if gotBad := len(bad) == 1 && bad[0].What == audit.ProblemBadCheckpoint; gotBad != c.wantBad || len(got)+len(bad) != 1 {
				t.Fatalf("checkpoints %v, problems %v; want a bad checkpoint: %v", got, bad, c.wantBad)
			}
			if !c.wantBad && got[cp.ChainID].Seq != 3 {
				t.Errorf("checkpoint = %+v", got[cp.ChainID])
			}
		})
	}
}

// TestListIntegrity: List marks each record it serves by recomputing its hash and comparing its
// link with its predecessor's stored hash, even when the predecessor belongs to another ambito.
func TestListIntegrity(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t, audit.Migrations)
	l := newLog(t, pool)
	recs := make([]audit.Record, 8)
	for i := range recs {
		recs[i] = rec(i)
		recs[i].ID = uuid.Must(uuid.NewV7())
		recs[i].Time = time.Date(2025, 1, 1, 0, 0, i, 0, time.UTC)
		if i%2 == 1 {
			recs[i].AmbitoID = "ambito-2" // the odd records, never listed for ambito-1
		}
		if err := l.Write(ctx, recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	// ambito-1 has seq 1, 3, 5, 7; ambito-2 seq 2, 4, 6, 8. Alter seq 3; change the hash of seq 4,
	// so that seq 5 no longer chains to it; delete seq 6, the predecessor of seq 7.
	tamper(t, pool, l.ChainID(), `UPDATE audit_records SET actor_id = 'mallory' WHERE chain_id = $1 AND seq = 3;
UPDATE audit_records SET hash = sha256(hash) WHERE chain_id = $1 AND seq = 4;
DELETE FROM audit_records WHERE chain_id = $1 AND seq = 6`)

	got, _, err := l.List(ctx, audit.Filter{AmbitoID: "ambito-1"})
	if err != nil {
		t.Fatal(err)
	}
	type mark struct{ ID, Integrity, Problem string }
	var marks []mark
	for _, r := range got {
		marks = append(marks, mark{r.ID.String(), r.Integrity, r.IntegrityProblem})
	}
	want := []mark{
		{recs[6].ID.String(), audit.IntegrityBroken, "the previous record of its chain (seq 6) is missing"},
		{recs[4].ID.String(), audit.IntegrityBroken, "the record does not chain to the previous record's hash"},
		{recs[2].ID.String(), audit.IntegrityBroken, "the record's fields do not match its hash: it was altered"},
		{recs[0].ID.String(), audit.IntegrityOK, ""},
	}
	if diff := cmp.Diff(marks, want); diff != "" {
		t.Errorf("integrity (-got +want):\n%s", diff)
	}
}
