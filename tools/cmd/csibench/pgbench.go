package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/tools/internal/load/floor"
)

// pgbenchResult is one pgbench run: PostgreSQL's own ceiling for a script.
type pgbenchResult struct {
	Name       string
	Database   string // the service whose database it ran on
	Clients    int
	TPS        float64
	LatencyAvg string
	Statements string // pgbench -r: each statement's average latency
}

// params turns $N placeholders into pgbench variables.
func params(sql string, names ...string) string {
	return regexp.MustCompile(`\$(\d+)`).ReplaceAllStringFunc(sql, func(m string) string {
		i, _ := strconv.Atoi(m[1:])
		return ":" + names[i-1]
	}) + ";\n"
}

// uuidv7SQL makes a UUIDv7 in SQL (intake's database has no function for it): the
// millisecond time over the first 48 bits of a random UUID, version bits 0111.
const uuidv7SQL = `encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing ` +
	`substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid`

// pgbenchJob is one script on one database, with the helper table it picks its ids from.
type pgbenchJob struct {
	name, service string
	script        string
	helper        string // CREATE TABLE pgbench_ids AS SELECT row_number() OVER () AS n, id ... ("" = none)
	vars          []string
}

// pgbenchJobs are the services' statements as pgbench scripts: the registry's read by id and
// create transaction, intake's case read and access create. pgbench has no list of ids and
// makes no strings, so each transaction first picks its values with one trivial query (\gset);
// -r shows each statement's own latency.
func pgbenchJobs(ambito string) []pgbenchJob {
	read := "\\set n random(1, :count)\n" +
		"SELECT id AS cid FROM pgbench_ids WHERE n = :n \\gset\n" +
		params(floor.ReadSQL, "ambito", "cid")
	create := "\\set r random(1, 9999999999999)\n\\set d random(0, 30000)\n" +
		"SELECT 'PGB' || lpad(:r::bigint::text, 13, '0') AS code, gen_random_uuid() AS cid, (date '1930-01-01' + :d::int)::text AS birth, " +
		"registry_uuidv7() AS eid, now() AS ts \\gset\n" +
		"BEGIN;\n" +
		params(floor.ByCodeSQL, "ambito", "code") +
		params(floor.DuplicatesSQL, "ambito", "family", "given", "birth", "belfiore") +
		params(floor.InsertSQL, "cid", "ambito", "code", "code", "family", "given", "sex", "birth", "belfiore", "istat", "status",
			"data", "version", "ts", "ts") +
		params(floor.InsertCodeSQL, "cid", "code", "reason", "ts") +
		params(floor.InsertEventSQL, "eid", "ambito", "etype", "agg", "cid", "ts", "payload") +
		"COMMIT;\n"
	caseRead := "\\set n random(1, :count)\n" +
		"SELECT id AS kid FROM pgbench_ids WHERE n = :n \\gset\n" +
		params(floor.CaseReadSQL, "ambito", "kid")
	accessCreate := "SELECT " + uuidv7SQL + " AS aid, " + uuidv7SQL + " AS eid, gen_random_uuid() AS cid, now() AS ts \\gset\n" +
		params(floor.TaxonomySQL, "ambito", "latest") +
		"BEGIN;\n" +
		params(floor.AccessInsertSQL, "aid", "ambito", "istat", "date", "cid", "outcome", "recorder", "data", "version", "ts", "ts") +
		params(floor.InsertEventSQL, "eid", "ambito", "etype", "agg", "aid", "ts", "payload") +
		"COMMIT;\n"
	// The ambito is a parsed UUID: safe to write into the statement.
	registryVars := []string{"ambito=" + ambito, "family=Rossi", "given=Mario", "sex=M",
		"belfiore=F205", "istat=015182", "status=alive", `data={"citizenship": "IT"}`, "version=1", "reason=assigned",
		"etype=citizen.created", "agg=citizen", `payload={"status": "alive"}`}
	access := floorAccessBody(citizen{ID: uuid.Nil, ISTAT: "015182"})
	intakeVars := []string{"ambito=" + ambito, "latest=0", "istat=015182", "date=" + accessDate, "outcome=information",
		"recorder=" + access["recorded_by"].(string), "data=" + jsonOf(access["data"]), "version=1", "etype=access.recorded", "agg=access",
		`payload={"istat_code": "015182", "anonymous": false}`}
	citizens := `CREATE TABLE pgbench_ids AS SELECT row_number() OVER () AS n, id FROM citizens WHERE ambito_id = '` + ambito + `'`
	cases := `CREATE TABLE pgbench_ids AS SELECT row_number() OVER () AS n, id FROM cases WHERE ambito_id = '` + ambito + `'`
	return []pgbenchJob{
		{name: "citizen read", service: "registry", script: read, helper: citizens, vars: registryVars},
		{name: "citizen create", service: "registry", script: create, vars: registryVars},
		{name: "case read", service: "intake", script: caseRead, helper: cases, vars: intakeVars},
		{name: "access create", service: "intake", script: accessCreate, vars: intakeVars},
	}
}

func pgbenchPath() (string, error) {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	if len(matches) == 0 {
		return "", fmt.Errorf("pgbench not found (on PATH or under /usr/lib/postgresql/*/bin)")
	}
	return matches[len(matches)-1], nil
}

// runPgbench runs every job on its service's database (dbURLs by service), each after its
// helper table of ids (dropped afterwards).
func runPgbench(ctx context.Context, logw io.Writer, dbURLs map[string]string, ambito string, d time.Duration) ([]pgbenchResult, error) {
	bin, err := pgbenchPath()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "csibench-pgbench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var out []pgbenchResult
	for i, job := range pgbenchJobs(ambito) {
		r, err := runJob(ctx, logw, bin, filepath.Join(dir, strconv.Itoa(i)+".sql"), dbURLs[job.service], job, d)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func runJob(ctx context.Context, logw io.Writer, bin, script, dbURL string, job pgbenchJob, d time.Duration) (pgbenchResult, error) {
	vars := slices.Clone(job.vars)
	if job.helper != "" {
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			return pgbenchResult{}, err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		for _, q := range []string{`DROP TABLE IF EXISTS pgbench_ids`, job.helper, `ALTER TABLE pgbench_ids ADD PRIMARY KEY (n)`} {
			if _, err := conn.Exec(ctx, q); err != nil {
				return pgbenchResult{}, fmt.Errorf("pgbench id table: %w", err)
			}
		}
		defer conn.Exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS pgbench_ids`) //nolint:errcheck // best effort
		var count int64
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pgbench_ids`).Scan(&count); err != nil {
			return pgbenchResult{}, err
		}
		if count == 0 {
			return pgbenchResult{}, fmt.Errorf("pgbench %s: no ids to pick from", job.name)
		}
		vars = append(vars, "count="+strconv.FormatInt(count, 10))
	}
	if err := os.WriteFile(script, []byte(job.script), 0o600); err != nil {
		return pgbenchResult{}, err
	}
	const clients = 8
	args := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", "2", "-T", strconv.Itoa(int(d.Seconds())), "-r", "-f", script}
	for _, v := range vars {
		args = append(args, "-D", v)
	}
	args = append(args, dbURL)
	fmt.Fprintf(logw, "==> pgbench %s on %s's database (%d clients, %s)\n", job.name, job.service, clients, d)
	b, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return pgbenchResult{}, fmt.Errorf("pgbench %s: %w: %s", job.name, err, b)
	}
	r := parsePgbench(job.name, clients, string(b))
	r.Database = job.service
	return r, nil
}

var (
	tpsRe = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)
	latRe = regexp.MustCompile(`latency average = ([0-9.]+ ms)`)
)

func parsePgbench(name string, clients int, out string) pgbenchResult {
	r := pgbenchResult{Name: name, Clients: clients}
	if m := tpsRe.FindStringSubmatch(out); m != nil {
		r.TPS, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := latRe.FindStringSubmatch(out); m != nil {
		r.LatencyAvg = m[1]
	}
	if _, after, ok := strings.Cut(out, "statement latencies in milliseconds"); ok {
		lines := strings.Split(after, "\n")
		var keep []string
		for _, l := range lines[1:] {
			if strings.TrimSpace(l) == "" {
				continue
			}
			if len(l) > 140 {
				l = l[:140] + "..."
			}
			keep = append(keep, l)
		}
		r.Statements = strings.Join(keep, "\n")
	}
	return r
}
