package suite

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// dbServer is the PostgreSQL server of a suite.
type dbServer struct {
	url     string // maintenance database URL
	root    string
	private bool // the private cluster of scripts/postgres.sh
	started bool // this suite started it, and stops it
	env     []string
}

// openServer returns the server of CSI_DATABASE_URL, else the private cluster of
// scripts/postgres.sh, which it starts when it is not running (installing PostgreSQL first when
// it is missing and csidev runs as root). A server already on the cluster's port is reused only
// when it is that cluster: the script refuses any other, naming it.
func openServer(ctx context.Context, root string, env []string, stderr io.Writer) (*dbServer, error) {
	if u := os.Getenv("CSI_DATABASE_URL"); u != "" {
		return &dbServer{url: u, root: root}, nil
	}
	s := &dbServer{root: root, private: true, env: env}
	u, err := s.script(ctx, "url", stderr)
	if err != nil {
		return nil, err
	}
	wasUp := reachable(u)
	if u, err = s.script(ctx, "start", stderr); err != nil {
		return nil, err
	}
	s.url, s.started = u, !wasUp
	return s, nil
}

// script runs scripts/postgres.sh with a command and returns the URL it prints.
func (s *dbServer) script(ctx context.Context, command string, stderr io.Writer) (string, error) {
	return runScript(ctx, s.root, s.env, stderr, "postgres.sh", command)
}

// runScript runs scripts/<name> with args and env and returns what it prints.
func runScript(ctx context.Context, root string, env []string, stderr io.Writer, name string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", name), args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr, cmd.Env = root, &out, stderr, env
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("scripts/%s %s: %w", name, strings.Join(args, " "), err)
	}
	return strings.TrimSpace(out.String()), nil
}

// stop stops the private cluster if this suite started it.
func (s *dbServer) stop(stderr io.Writer) error {
	if !s.started {
		return nil
	}
	// Not bound to the suite's context, which may be cancelled already.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := s.script(ctx, "stop", stderr)
	return err
}

// reachable reports whether something listens at the host and port of a database URL.
func reachable(dbURL string) bool {
	u, err := url.Parse(dbURL)
	if err != nil || u.Host == "" {
		return false
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5432")
	}
	c, err := net.DialTimeout("tcp", host, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// withDatabase returns the server URL with its path set to the database name.
func withDatabase(serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("the database URL is not a URL")
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// ensureDatabases creates the databases that do not exist yet and returns the URL of each.
func ensureDatabases(ctx context.Context, serverURL string, names []string) (map[string]string, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(serverURL)
	if err != nil {
		// pgx's parse errors may quote the URL, password included.
		return nil, fmt.Errorf("the database URL %s is not valid", Redact(serverURL))
	}
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	urls := map[string]string{}
	for _, name := range names {
		var exists bool
		if err := conn.QueryRow(cctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
			return nil, fmt.Errorf("look for database %s: %w", name, err)
		}
		if !exists {
			if _, err := conn.Exec(cctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
				return nil, fmt.Errorf("create database %s: %w", name, err)
			}
		}
		if urls[name], err = withDatabase(serverURL, name); err != nil {
			return nil, err
		}
	}
	return urls, nil
}

// Redact hides the password of a database URL for printing.
func Redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}
