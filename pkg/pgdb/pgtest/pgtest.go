// Package pgtest gives each test package a fresh PostgreSQL database on the real server named by
// CSI_TEST_DATABASE_URL (make test starts one), migrated from empty and dropped afterwards, so
// packages run in parallel without seeing each other's rows.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/csi-lombardia/csi/pkg/pgdb"
)

// ServerURL is the URL of the test server's maintenance database. It fails the test when the
// variable is missing: make test always sets it, and a test that silently skips proves nothing.
func ServerURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("CSI_TEST_DATABASE_URL")
	if u == "" {
		tb.Fatal("CSI_TEST_DATABASE_URL is not set: run the tests with 'make test', which starts PostgreSQL")
	}
	return u
}

// NewURL creates an empty database for this test and returns its URL; the database is dropped
// when the test ends.
func NewURL(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	server := ServerURL(tb)
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		tb.Fatalf("connect to test server: %v", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + sanitize(tb.Name()) + "_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx := context.Background()
		c, err := pgx.Connect(ctx, server)
		if err != nil {
			tb.Logf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		tb.Fatalf("parse CSI_TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// New creates a fresh database, applies the migration sets, and returns a pool on it; pool and
// database are closed and dropped when the test ends.
func New(tb testing.TB, sets ...pgdb.MigrationSet) *pgxpool.Pool {
	tb.Helper()
	ctx := context.Background()
	pool, err := pgdb.Open(ctx, NewURL(tb))
	if err != nil {
		tb.Fatalf("open pool: %v", err)
	}
	tb.Cleanup(pool.Close)
	if err := pgdb.Migrate(ctx, pool, nil, sets...); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return pool
}

func sanitize(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := b.String()
	if len(out) > 40 {
		out = out[:40]
	}
	return fmt.Sprint(out)
}
