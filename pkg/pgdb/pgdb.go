// Package pgdb is the PostgreSQL plumbing every service shares: a pgx pool with sane limits,
// embedded migrations applied under an advisory lock, a transaction helper, and the translation
// of driver errors into pkg/errs kinds.
package pgdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// Open returns a pool for the URL. Pool settings in the URL (pool_max_conns, ...) win over the
// defaults set here. It does not wait for the database: readiness reports that.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx parse errors can quote the connection string, password included: never return them.
		return nil, errors.New("parse database url: invalid connection string")
	}
	if !hasParam(url, "pool_max_conns") {
		cfg.MaxConns = 20
	}
	if !hasParam(url, "pool_min_conns") {
		cfg.MinConns = 0
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.MaxConnLifetime = time.Hour
	cfg.HealthCheckPeriod = 5 * time.Second
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 3 * time.Second
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "csi"
	}
	// A statement that runs away is cut by the server, not left to hold a connection.
	if _, ok := cfg.ConnConfig.RuntimeParams["statement_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = "30000"
	}
	// JIT compilation pays off on long analytical queries; on the services' short statements its
	// compile time (hundreds of ms when a plan's cost estimate is high) is pure latency.
	if _, ok := cfg.ConnConfig.RuntimeParams["jit"]; !ok {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	return pgxpool.NewWithConfig(ctx, cfg)
}

func hasParam(url, name string) bool { return strings.Contains(url, name+"=") }

// MigrationSet is a named set of goose SQL migrations. Each set keeps its own version table
// (goose_<name>), so the platform's tables (audit, outbox, idempotency) and a service's own
// evolve independently in the same database.
type MigrationSet struct {
	Name string
	FS   fs.FS // the directory holding NNNNN_name.sql files
}

// Embedded is the set name whose files are in the dir directory of an embedded file system
// (//go:embed migrations/*.sql).
func Embedded(name string, fsys fs.FS, dir string) MigrationSet {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(fmt.Sprintf("migrations %s: %v", name, err)) // a build-time mistake
	}
	return MigrationSet{Name: name, FS: sub}
}

// Migrate applies every pending migration of each set, in order, holding a PostgreSQL advisory
// lock so that several replicas starting together apply each migration once.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, sets ...MigrationSet) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	for _, set := range sets {
		store, err := database.NewStore(database.DialectPostgres, "goose_"+set.Name)
		if err != nil {
			return err
		}
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 120))
		if err != nil {
			return err
		}
		p, err := goose.NewProvider("", db, set.FS, goose.WithStore(store), goose.WithSessionLocker(locker),
			goose.WithDisableGlobalRegistry(true))
		if err != nil {
			return fmt.Errorf("migrations %s: %w", set.Name, err)
		}
		results, err := p.Up(ctx)
		if err != nil {
			return fmt.Errorf("migrations %s: %w", set.Name, err)
		}
		for _, r := range results {
			if log != nil {
				log.Info("migration applied", "set", set.Name, "version", r.Source.Version, "duration", r.Duration)
			}
		}
	}
	return nil
}

// Pending reports whether any set has migrations not yet applied (for /readyz).
func Pending(ctx context.Context, pool *pgxpool.Pool, sets ...MigrationSet) (bool, error) {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	for _, set := range sets {
		store, err := database.NewStore(database.DialectPostgres, "goose_"+set.Name)
		if err != nil {
			return false, err
		}
		p, err := goose.NewProvider("", db, set.FS, goose.WithStore(store), goose.WithDisableGlobalRegistry(true))
		if err != nil {
			return false, err
		}
		pending, err := p.HasPending(ctx)
		if err != nil {
			return false, Translate(err)
		}
		if pending {
			return true, nil
		}
	}
	return false, nil
}

// DB is what both a pool and a transaction offer; stores take it so that one method works in
// and out of a transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Beginner starts transactions: a pool (or a transaction, for a savepoint).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// InTx runs fn in a transaction, committing when it returns nil and rolling back otherwise.
// Driver errors are translated.
func InTx(ctx context.Context, db Beginner, fn func(tx pgx.Tx) error) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return Translate(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return Translate(err)
	}
	return nil
}

// PostgreSQL error codes the suite reacts to.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeCheckViolation      = "23514"
	codeNotNullViolation    = "23502"
	codeSerialization       = "40001"
	codeDeadlock            = "40P01"
	codeAdminShutdown       = "57P01"
	codeCannotConnectNow    = "57P03"
	codeQueryCanceled       = "57014"
)

// Translate turns a pgx/PostgreSQL error into a pkg/errs error of the right kind. Errors already
// of a kind pass through; nil stays nil.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return errs.Wrap(errs.NotFound, err, "not found")
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case codeUniqueViolation:
			return &errs.Error{Kind: errs.Conflict, Message: "already exists", Err: err,
				Extra: map[string]any{"constraint": pg.ConstraintName}}
		case codeForeignKeyViolation:
			return &errs.Error{Kind: errs.FailedPrecondition, Message: "refers to something that does not exist", Err: err,
				Extra: map[string]any{"constraint": pg.ConstraintName}}
		case codeCheckViolation, codeNotNullViolation:
			return errs.Wrap(errs.Invalid, err, "breaks a data rule")
		case codeSerialization, codeDeadlock:
			return &errs.Error{Kind: errs.Unavailable, Message: "concurrent update, retry", Err: err, RetryAfter: time.Second}
		case codeAdminShutdown, codeCannotConnectNow:
			return &errs.Error{Kind: errs.Unavailable, Message: "database unavailable", Err: err, RetryAfter: 2 * time.Second}
		case codeQueryCanceled:
			return &errs.Error{Kind: errs.Unavailable, Message: "database timeout", Err: err, RetryAfter: time.Second}
		}
		return errs.Wrap(errs.Internal, err, "database error")
	}
	if IsConnError(err) {
		return &errs.Error{Kind: errs.Unavailable, Message: "database unavailable", Err: err, RetryAfter: 2 * time.Second}
	}
	if errors.Is(err, context.Canceled) {
		// The caller went away (a client that disconnected): not a fault of ours.
		return &errs.Error{Kind: errs.Unavailable, Message: "request cancelled", Err: err}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &errs.Error{Kind: errs.Unavailable, Message: "database timeout", Err: err, RetryAfter: time.Second}
	}
	return err
}

// NotFound translates err like Translate, naming what was not found ("operator not found").
func NotFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return errs.Wrap(errs.NotFound, err, "%s not found", what)
	}
	return Translate(err)
}

// Collect scans every row with scan, closing rows; never nil on success.
func Collect[T any](rows pgx.Rows, scan func(pgx.Rows, *T) error) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return nil, Translate(err)
		}
		out = append(out, v)
	}
	return out, Translate(rows.Err())
}

// IsConnError reports whether err means the database could not be reached.
func IsConnError(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ce) || errors.As(err, &oe) || errors.As(err, &ne) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		pgconn.SafeToRetry(err)
}

// Ping checks the database within a short deadline (for /readyz).
func Ping(ctx context.Context, pool *pgxpool.Pool) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return pool.Ping(ctx)
}
