package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/tools/internal/load/floor"
)

// pgbenchResult is one pgbench run: PostgreSQL's own ceiling for a script.
type pgbenchResult struct {
	Name       string
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

// pgbenchScripts are the registry's statements as pgbench scripts: the read by id, and the
// create transaction. pgbench has no list of ids and makes no strings, so each transaction
// first picks its values with one trivial query (\gset); -r shows each statement's own latency.
func pgbenchScripts() map[string]string {
	read := "\\set n random(1, :count)\n" +
		"SELECT id AS cid FROM pgbench_citizen_ids WHERE n = :n \\gset\n" +
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
	return map[string]string{"read": read, "create": create}
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

// runPgbench runs both scripts against the registry's database, after a helper table of the
// citizens' ids (dropped afterwards).
func runPgbench(ctx context.Context, logw io.Writer, dbURL, ambito string, d time.Duration) ([]pgbenchResult, error) {
	bin, err := pgbenchPath()
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// The ambito is a parsed UUID: safe to write into the statement.
	var count int64
	for _, q := range []string{`DROP TABLE IF EXISTS pgbench_citizen_ids`,
		`CREATE TABLE pgbench_citizen_ids AS SELECT row_number() OVER () AS n, id FROM citizens WHERE ambito_id = '` + ambito + `'`,
		`ALTER TABLE pgbench_citizen_ids ADD PRIMARY KEY (n)`} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("pgbench id table: %w", err)
		}
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pgbench_citizen_ids`).Scan(&count); err != nil {
		return nil, err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS pgbench_citizen_ids`) //nolint:errcheck // best effort

	dir, err := os.MkdirTemp("", "csibench-pgbench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	vars := []string{"ambito=" + ambito, "count=" + strconv.FormatInt(count, 10), "family=Rossi", "given=Mario", "sex=M",
		"belfiore=F205", "istat=015182", "status=alive", `data={"citizenship": "IT"}`, "version=1", "reason=assigned",
		"etype=citizen.created", "agg=citizen", `payload={"status": "alive"}`}
	var out []pgbenchResult
	for _, name := range []string{"read", "create"} {
		script := filepath.Join(dir, name+".sql")
		if err := os.WriteFile(script, []byte(pgbenchScripts()[name]), 0o600); err != nil {
			return nil, err
		}
		const clients = 8
		args := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", "2", "-T", strconv.Itoa(int(d.Seconds())), "-r", "-f", script}
		for _, v := range vars {
			args = append(args, "-D", v)
		}
		args = append(args, dbURL)
		fmt.Fprintf(logw, "==> pgbench %s (%d clients, %s)\n", name, clients, d)
		cmd := exec.CommandContext(ctx, bin, args...)
		b, err := cmd.CombinedOutput()
		if err != nil {
			return out, fmt.Errorf("pgbench %s: %w: %s", name, err, b)
		}
		out = append(out, parsePgbench(name, clients, string(b)))
	}
	return out, nil
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
