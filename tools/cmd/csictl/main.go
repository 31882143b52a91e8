// Command csictl administers a CSI installation.
//
//	csictl token              print an access token
//	csictl import-operators   import operators from a CSV file, in chunks
//	csictl audit verify       verify the audit trail of one service or several
//	csictl version            print the version
//
// Run 'csictl help' for the list and 'csictl <command> -h' for the flags of a command. The first
// ambito and its administrator are created by the identity service's own binary, on its
// database: 'identity bootstrap -h'.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/csi-lombardia/csi/pkg/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		if !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "csictl:", err)
		}
		os.Exit(1)
	}
}

// stdio are the streams of a run.
type stdio struct {
	in  *os.File // read for passwords when it is a terminal; may be nil
	out io.Writer
	err io.Writer
}

var (
	// errUsage is returned for a wrong command line, after the usage was shown.
	errUsage = errors.New("usage")
	// errReported is returned when the failure has been printed already.
	errReported = errors.New("failed")
)

// command is a subcommand.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, std stdio) error
}

func commands() []command {
	return []command{
		{"token", "sign in and print an access token", tokenCmd},
		{"import-operators", "import operators from a CSV file through the identity service, in chunks", importCmd},
		{"audit", "audit verify: verify the audit trail of one service or several", auditCmd},
		{"version", "print the version", versionCmd},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "csictl administers a CSI installation.\n\nUsage: csictl <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-17s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "  help              this list\n\nRun 'csictl <command> -h' for the flags of a command.")
}

func run(ctx context.Context, args []string, std stdio) error {
	if len(args) == 0 {
		usage(std.err)
		return errUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(std.out)
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], std)
		}
	}
	fmt.Fprintf(std.err, "csictl: unknown command %q\n\n", args[0])
	if args[0] == "bootstrap" {
		fmt.Fprint(std.err, "The first ambito is created by the identity service's binary: identity bootstrap -h\n\n")
	}
	usage(std.err)
	return errUsage
}

// newFlags returns the flag set of a command, whose errors are usage errors.
func newFlags(name string, std stdio) *flag.FlagSet {
	fs := flag.NewFlagSet("csictl "+name, flag.ContinueOnError)
	fs.SetOutput(std.err)
	return fs
}

// parse parses args, rejecting positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %q\n", fs.Args())
		return errUsage
	}
	return nil
}

// envOr returns the environment variable, or def when it is empty.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func versionCmd(_ context.Context, args []string, std stdio) error {
	if err := parse(newFlags("version", std), args); err != nil {
		return err
	}
	commit := app.Commit
	if info, ok := debug.ReadBuildInfo(); ok && commit == "unknown" {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 7 {
				commit = s.Value[:7]
			}
		}
	}
	fmt.Fprintf(std.out, "csictl %s (commit %s, %s)\n", app.Version, commit, runtime.Version())
	return nil
}
