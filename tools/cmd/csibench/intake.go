package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/tools/internal/demo"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
	"github.com/csi-lombardia/csi/tools/internal/load"
	"github.com/csi-lombardia/csi/tools/internal/suite"
)

// accessDate is the date of the bench's accesses: a fixed day in the past (intake refuses a
// future one), so that every run writes the same rows.
const accessDate = "2025-10-01"

// workerTokens are the tokens of the comuni's demo social workers, by ISTAT code: a comune's
// social worker records the accesses of their comune and reads its cases. The pointers are
// made once; refresh writes through them between ramps, while no request runs.
type workerTokens map[string]*string

// newWorkerTokens signs every comune's demo social worker in.
func newWorkerTokens(ctx context.Context, s *suite.Suite) (workerTokens, error) {
	w := workerTokens{}
	for _, u := range s.Demo().ComuneWorkers {
		org, ok := s.Demo().Org(u.OrgKey)
		if !ok {
			return nil, fmt.Errorf("the demo social worker %s has no comune", u.Email)
		}
		w[org.ISTATCode] = new(string)
	}
	return w, w.refresh(ctx, s)
}

// refresh signs the workers in again (tokens last 15 minutes: each ramp takes new ones).
func (w workerTokens) refresh(ctx context.Context, s *suite.Suite) error {
	for _, u := range s.Demo().ComuneWorkers {
		org, _ := s.Demo().Org(u.OrgKey)
		tok, err := idclient.New(s.URL("identity"), nil).SignIn(ctx, u.Email, u.Password, "")
		if err != nil {
			return fmt.Errorf("sign in as %s: %w", u.Email, err)
		}
		*w[org.ISTATCode] = tok.AccessToken
	}
	return nil
}

// freshIntake gives intake an empty database again when an earlier run (or the demo data, made
// on the demo citizens the bench dropped) left accesses in it, then records the intake demo data
// (demo.SeedIntake: 40 accesses a comune, about a third taken into care) on the imported
// citizens: every run reads the same cases and writes into the same tables.
func freshIntake(ctx context.Context, s *suite.Suite, logw io.Writer) (demo.IntakeResult, error) {
	conn, err := pgx.Connect(ctx, s.DatabaseURL("intake"))
	if err != nil {
		return demo.IntakeResult{}, fmt.Errorf("connect to intake's database: %w", err)
	}
	var n int64
	err = conn.QueryRow(ctx, `SELECT count(*) FROM accesses`).Scan(&n)
	var db string
	_ = conn.QueryRow(ctx, `SELECT current_database()`).Scan(&db)
	conn.Close(ctx)
	if err != nil {
		return demo.IntakeResult{}, fmt.Errorf("count accesses: %w", err)
	}
	if n > 0 {
		fmt.Fprintf(logw, "==> intake's database %s holds %d accesses: starting it afresh\n", db, n)
		if err := recreate(ctx, s, "intake", db); err != nil {
			return demo.IntakeResult{}, err
		}
	}
	fmt.Fprintln(logw, "==> recording intake's demo accesses and cases on the imported citizens")
	res, err := demo.SeedIntake(ctx, s.Demo(), demo.IntakeOptions{IdentityURL: s.URL("identity"), RegistryURL: s.URL("registry"),
		IntakeURL: s.URL("intake"), Log: logw})
	if err != nil {
		return res, fmt.Errorf("intake's demo data: %w", err)
	}
	fmt.Fprintf(logw, "    %d accesses, %d cases\n", res.Accesses, res.Cases)
	return res, nil
}

// recreate stops a service, drops and creates its database db, and starts it again (its
// migrations run at start).
func recreate(ctx context.Context, s *suite.Suite, service, db string) error {
	if err := s.Signal(service, sigterm); err != nil {
		return err
	}
	_ = s.Wait(service)
	srv, err := pgx.Connect(ctx, s.ServerURL())
	if err != nil {
		return fmt.Errorf("connect to the server: %w", err)
	}
	defer srv.Close(ctx)
	ident := pgx.Identifier{db}.Sanitize()
	for _, q := range []string{`DROP DATABASE ` + ident + ` WITH (FORCE)`, `CREATE DATABASE ` + ident} {
		if _, err := srv.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return s.Restart(ctx, service)
}

// kase is a case of intake's database as the reads pick them.
type kase struct {
	ID    uuid.UUID
	ISTAT string
}

// intakeCases reads the cases back from intake's database in a fixed pseudo-random order.
func intakeCases(ctx context.Context, dbURL string) ([]kase, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect to intake's database: %w", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT id, istat_code FROM cases ORDER BY md5(id::text)`)
	if err != nil {
		return nil, fmt.Errorf("read cases: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (kase, error) {
		var k kase
		return k, r.Scan(&k.ID, &k.ISTAT)
	})
}

// accessBody is intake's access create request for a citizen of a comune: a resident who
// asks for home care, as the walk-through of services/intake/README.md records one.
func accessBody(c citizen) map[string]any {
	return map[string]any{"date": accessDate, "istat_code": c.ISTAT, "desk": "Segretariato Sociale", "channel": "in_person",
		"referrer": map[string]any{"kind": "family", "body": "la figlia"}, "citizen_id": c.ID, "request_type": "service_request",
		"requested_area": "ANZ", "needs": []string{"ANZ.01"}, "household": map[string]any{"type": "lives_alone", "size": 1},
		"isee":    map[string]any{"type": "sociosanitario", "value_cents": 1234500},
		"summary": "Vive sola, la figlia chiede aiuto a domicilio.", "outcome": map[string]any{"kind": "information"}}
}

// floorAccessBody is the floor's access create for the same citizen: the columns intake fills,
// and as data the record intake stores (the request's fields and what intake adds to them).
func floorAccessBody(c citizen) map[string]any {
	recorder := uuid.NewSHA1(uuid.NameSpaceURL, []byte("bench-worker-"+c.ISTAT)).String()
	data := accessBody(c)
	now := time.Now().UTC()
	data["id"], data["ambito_id"], data["taxonomy_version"] = uuid.Nil, uuid.Nil, 1
	data["operator"] = map[string]any{"id": recorder, "role": "social_worker", "org_id": recorder}
	data["created_at"], data["updated_at"] = now, now
	delete(data, "version")
	return map[string]any{"istat_code": c.ISTAT, "access_date": accessDate, "citizen_id": c.ID, "outcome": "information",
		"recorded_by": recorder, "data": data}
}

// intakeTargets are intake's operations: the case read by id and the access create, each
// beside its floor.
func intakeTargets(hc *http.Client, intakeURL, floorURL string, citizens []citizen, cases []kase, workers workerTokens,
	warm func(context.Context) error) []target {
	as := func(req *http.Request, istat string) *http.Request {
		if tok := workers[istat]; tok != nil {
			req.Header.Set("Authorization", "Bearer "+*tok)
		}
		return req
	}
	caseAt := func(i int64) kase { return cases[int(i%int64(len(cases)))] }
	citizenAt := func(i int64) citizen { return citizens[int(i%int64(len(citizens)))] }
	get := func(u func(i int64) (string, string)) func(context.Context, int64) (*http.Request, error) {
		return func(ctx context.Context, i int64) (*http.Request, error) {
			url, istat := u(i)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return nil, err
			}
			return as(req, istat), nil
		}
	}
	post := func(url string, body func(c citizen) map[string]any) func(context.Context, int64) (*http.Request, error) {
		return func(ctx context.Context, i int64) (*http.Request, error) {
			c := citizenAt(i)
			req, err := jsonRequest(ctx, http.MethodPost, url, body(c))
			if err != nil {
				return nil, err
			}
			return as(req, c.ISTAT), nil
		}
	}
	return []target{
		{group: "intake: case reads", name: "floor: case read", start: 200, note: "csifloor: intake's SELECT of a case (its status history and transfers aggregated), no auth/audit",
			op: load.Op{Do: load.HTTP(hc, get(func(i int64) (string, string) { return floorURL + "/cases/" + caseAt(i).ID.String(), "" }))}},
		{group: "intake: case reads", name: "case read", floor: "floor: case read", start: 100, tokens: true, service: "intake",
			note: "GET /v1/cases/{id} of the " + itoa(len(cases)) + " cases of intake's demo data, each by its comune's social worker (scope check, reserved notes kept); audited; no cache, no call to the registry",
			op: load.Op{Do: load.HTTP(hc, get(func(i int64) (string, string) {
				k := caseAt(i)
				return intakeURL + "/v1/cases/" + k.ID.String(), k.ISTAT
			}))}},
		{group: "intake: access creates", name: "floor: access create", start: 50,
			note: "csifloor: intake's create (the taxonomy read, then the access insert and its outbox row in one transaction); no call to the registry",
			op:   load.Op{Do: load.HTTP(hc, post(floorURL+"/accesses", floorAccessBody), http.StatusCreated)}},
		{group: "intake: access creates", name: "access create", floor: "floor: access create", start: 20, tokens: true, warm: warm, service: "intake",
			note: "POST /v1/accesses by the citizen's comune's social worker, a registry citizen id (of " + itoa(len(citizens)) +
				" residents read once before, so the registry answers from Redis): validation against the taxonomy, **one call to the registry per create** (GET /v1/citizens/{id} with intake's machine client, audited there), outbox, audit",
			op: load.Op{Do: load.HTTP(hc, post(intakeURL+"/v1/accesses", accessBody), http.StatusCreated)}},
	}
}

// debugAddrs are the pprof addresses (CSI_DEBUG_ADDR) of the services the bench profiles.
type debugAddrs map[string]string

// jsonOf is v as JSON, for pgbench variables.
func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
