// Command csifloor serves the floor of the load bench (package floor): the registry's SQL for
// the citizen read by id and the citizen create, behind plain net/http and a pgx pool of the
// registry's size (20), with no framework, authentication, validation, audit or cache.
//
//	csifloor -addr 127.0.0.1:28090 -database-url postgres://.../bench_registry -ambito <uuid>
//
// GET /citizens/{id} reads a citizen of the ambito; POST /citizens takes the columns
// (fiscal_code, fiscal_code_canonical, family_name, given_name, sex, birth_date,
// birth_belfiore, residence_istat) and data, the record as JSON.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/csi-lombardia/csi/tools/internal/load/floor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "csifloor:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("csifloor", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:28090", "listen address")
	dbURL := fs.String("database-url", os.Getenv("CSI_DATABASE_URL"), "the registry's database")
	ambito := fs.String("ambito", "", "the ambito whose citizens are read and written")
	if err := fs.Parse(args); err != nil {
		return err
	}
	amb, err := uuid.Parse(*ambito)
	if err != nil {
		return fmt.Errorf("-ambito: %w", err)
	}
	cfg, err := pgxpool.ParseConfig(*dbURL)
	if err != nil {
		return errors.New("-database-url: invalid connection string")
	}
	cfg.MaxConns = 20
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open pool: %w", err)
	}
	defer pool.Close()
	if err := pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	srv := &http.Server{Addr: *addr, Handler: floor.Handler{Pool: pool, Ambito: amb}.Routes(),
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shut)
}
