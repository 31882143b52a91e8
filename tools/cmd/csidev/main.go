// Command csidev runs the CSI suite on one machine for development (make run).
//
//	csidev run  [-no-seed] [-port-base 8081] [-db-prefix csi_] [-tail]
//	csidev seed [-url http://127.0.0.1:8081] [-admin-email ...] [-admin-password ...]
//	csidev stop
//
// run finds the repository (the directory holding go.work), gets a PostgreSQL server (the one
// in CSI_DATABASE_URL, or make run's private cluster of scripts/postgres.sh under .run/dev/pg
// on port 55433, never make test's, started when needed and stopped again on exit), creates one
// database per service, keeps per-checkout secrets in .run/dev/secrets.env, builds every service
// into bin/, starts each as its own process with its log in .run/dev/logs/<service>.log, waits until each is ready, loads the demo ambito (package
// demo) and prints the URLs, the demo sign-ins and a curl command that gets a token. Ctrl-C
// (SIGINT) or SIGTERM stops it all.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, stop, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "csidev:", err)
		os.Exit(1)
	}
}

const usage = `csidev runs the CSI suite on this machine for development.

Usage:
  csidev run   [flags]   build and start every service, load the demo data, wait for Ctrl-C
  csidev seed  [flags]   load the demo data into a running identity service
  csidev stop            stop the csidev run of this checkout
  csidev help            this text

Run 'csidev <command> -h' for the flags of a command.
`

// run dispatches the subcommand. release restores the default handling of SIGINT and SIGTERM
// once shutdown has begun, so that a second Ctrl-C ends csidev at once; it cancels ctx too.
func run(ctx context.Context, release func(), args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "run":
		return runSuite(ctx, release, args[1:], stdout, stderr)
	case "seed":
		return seedCmd(ctx, args[1:], stdout, stderr)
	case "stop":
		return stopCmd(ctx, args[1:], stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
