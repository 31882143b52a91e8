// Command csifloor serves the floor of the load bench (package floor): the services' own SQL
// behind plain net/http and a pgx pool of the services' size (20) per database, with no
// framework, authentication, validation, audit, cache or call to another service.
//
//	csifloor -addr 127.0.0.1:28090 -ambito <uuid> \
//	    [-database-url postgres://.../bench_registry] [-intake-database-url postgres://.../bench_intake] \
//	    [-interventions-database-url postgres://.../bench_interventions]
//
// With -database-url (the registry's database): GET /citizens/{id} reads a citizen of the
// ambito; POST /citizens takes the columns (fiscal_code, fiscal_code_canonical, family_name,
// given_name, sex, birth_date, birth_belfiore, residence_istat) and data, the record as JSON.
//
// With -intake-database-url (intake's database): POST /accesses records an access as intake
// does (the taxonomy read, then the access and its event in one transaction), taking the
// columns (istat_code, access_date, citizen_id, outcome, recorded_by) and data; GET
// /cases/{id} reads a case of the ambito with its status history and transfers.
//
// With -interventions-database-url (interventions' database): POST /visits stores a visit and
// POST /visits:batch {"visits": [...]} up to 1,000, each request in one transaction with the
// store's statements (the authorizations locked, the approved months, the overlaps, the minutes
// used, the insert in a savepoint, an outbox row per authorization), taking the visit's input
// (authorization_id, operator_id, date, start, end, activities, place, notes, absent) and the
// columns the service derives (cooperative_id, service_type, citizen_id, recorded_by).
//
// At least one of the three is required.
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
	dbURL := fs.String("database-url", os.Getenv("CSI_DATABASE_URL"), "the registry's database: serve its floor (/citizens)")
	intakeURL := fs.String("intake-database-url", "", "intake's database: serve its floor (/accesses, /cases)")
	ivURL := fs.String("interventions-database-url", "", "interventions' database: serve its floor (/visits, /visits:batch)")
	ambito := fs.String("ambito", "", "the ambito whose records are read and written")
	if err := fs.Parse(args); err != nil {
		return err
	}
	amb, err := uuid.Parse(*ambito)
	if err != nil {
		return fmt.Errorf("-ambito: %w", err)
	}
	if *dbURL == "" && *intakeURL == "" && *ivURL == "" {
		return errors.New("give -database-url (the registry's floor), -intake-database-url (intake's), -interventions-database-url (interventions') or more")
	}
	var registry *floor.Handler
	var intake *floor.IntakeHandler
	if *dbURL != "" {
		pool, err := open(ctx, "-database-url", *dbURL)
		if err != nil {
			return err
		}
		defer pool.Close()
		registry = &floor.Handler{Pool: pool, Ambito: amb}
	}
	if *intakeURL != "" {
		pool, err := open(ctx, "-intake-database-url", *intakeURL)
		if err != nil {
			return err
		}
		defer pool.Close()
		intake = &floor.IntakeHandler{Pool: pool, Ambito: amb}
	}
	var iv *floor.InterventionsHandler
	if *ivURL != "" {
		pool, err := open(ctx, "-interventions-database-url", *ivURL)
		if err != nil {
			return err
		}
		defer pool.Close()
		iv = &floor.InterventionsHandler{Pool: pool, Ambito: amb}
	}
	srv := &http.Server{Addr: *addr, Handler: floor.Mux(registry, intake, iv),
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

// open opens a pool of the services' size (pkg/pgdb's 20) on url and checks it.
func open(ctx context.Context, flag, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid connection string", flag)
	}
	cfg.MaxConns = 20
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: open pool: %w", flag, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%s: ping database: %w", flag, err)
	}
	return pool, nil
}
