package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/services/identity/postgres"
)

// stdio are the streams of a command run.
type stdio struct {
	in  *os.File // read for the password when it is a terminal; may be nil
	out io.Writer
	err io.Writer
}

// errUsage is returned for a wrong command line, after the usage was shown.
var errUsage = errors.New("usage")

// bootstrapMain runs 'identity bootstrap args' with a context that SIGINT or SIGTERM ends, and
// returns the status the process ends with: 0, 2 for a wrong command line, 1 for a failure.
func bootstrapMain(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := bootstrap(ctx, args, stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintln(os.Stderr, "identity bootstrap:", err)
	return 1
}

// bootstrap creates the first ambito, its azienda consortile and its ambito administrator
// directly on the identity database, after applying the migrations the service applies. It
// changes nothing when the ambito exists already.
func bootstrap(ctx context.Context, args []string, std stdio) error {
	fs := flag.NewFlagSet("identity bootstrap", flag.ContinueOnError)
	fs.SetOutput(std.err)
	env := os.Getenv
	dbURL := fs.String("database-url", "", "the identity database (default $CSI_DATABASE_URL)")
	code := fs.String("ambito-code", env("CSI_BOOTSTRAP_AMBITO_CODE"), "code of the ambito (default $CSI_BOOTSTRAP_AMBITO_CODE)")
	name := fs.String("ambito-name", env("CSI_BOOTSTRAP_AMBITO_NAME"), "name of the ambito (default $CSI_BOOTSTRAP_AMBITO_NAME)")
	azienda := fs.String("azienda-name", env("CSI_BOOTSTRAP_AZIENDA_NAME"), "name of the azienda consortile (default $CSI_BOOTSTRAP_AZIENDA_NAME, else \"Azienda consortile <ambito name>\")")
	email := fs.String("email", env("CSI_BOOTSTRAP_ADMIN_EMAIL"), "the administrator's e-mail (default $CSI_BOOTSTRAP_ADMIN_EMAIL)")
	fiscal := fs.String("fiscal-code", env("CSI_BOOTSTRAP_ADMIN_FISCAL_CODE"), "their codice fiscale (default $CSI_BOOTSTRAP_ADMIN_FISCAL_CODE)")
	given := fs.String("given-name", env("CSI_BOOTSTRAP_ADMIN_GIVEN_NAME"), "their given name (default $CSI_BOOTSTRAP_ADMIN_GIVEN_NAME)")
	family := fs.String("family-name", env("CSI_BOOTSTRAP_ADMIN_FAMILY_NAME"), "their family name (default $CSI_BOOTSTRAP_ADMIN_FAMILY_NAME)")
	password := fs.String("password", "", "their password (default $CSI_BOOTSTRAP_ADMIN_PASSWORD, else typed on the terminal)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: identity bootstrap [flags]\n\nCreates the first ambito, its azienda consortile and its ambito administrator on the identity\ndatabase, applying the migrations first. The master key that seals the signing keys comes from\n$CSI_IDENTITY_MASTER_KEY (32 bytes, base64), the same as the service's. Nothing changes when the\nambito exists already.\n\nFlags:")
		fs.PrintDefaults()
	}
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
	var missing []string
	for _, f := range []struct{ flag, value string }{{"-ambito-code", *code}, {"-ambito-name", *name}, {"-email", *email},
		{"-fiscal-code", *fiscal}, {"-given-name", *given}, {"-family-name", *family}} {
		if f.value == "" {
			missing = append(missing, f.flag)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s (flags, or the CSI_BOOTSTRAP_... variables)", strings.Join(missing, ", "))
	}
	if *dbURL == "" {
		*dbURL = env("CSI_DATABASE_URL")
	}
	if *dbURL == "" {
		return errors.New("no database: use -database-url or set CSI_DATABASE_URL")
	}
	master, err := base64.StdEncoding.DecodeString(env("CSI_IDENTITY_MASTER_KEY"))
	if err != nil || len(master) != 32 {
		return errors.New("CSI_IDENTITY_MASTER_KEY must be set to the service's master key: 32 bytes, base64")
	}

	log := slog.New(slog.NewTextHandler(std.err, nil))
	pool, err := pgdb.Open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	// The same sets as run applies through app.Start.
	if err := pgdb.Migrate(ctx, pool, log, app.Sets(postgres.Migrations)...); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	store := postgres.New(pool)
	cfg := identity.DefaultConfig()
	keys, err := identity.NewKeyRing(store, master, 24*time.Hour, cfg.AccessTTL+time.Hour)
	if err != nil {
		return err
	}
	// Opening the stored signing keys proves the master key is the service's.
	if err := keys.Load(ctx); err != nil {
		return fmt.Errorf("CSI_IDENTITY_MASTER_KEY does not open the stored signing keys: %w", err)
	}
	if a, err := store.AmbitoByCode(ctx, *code); err == nil {
		fmt.Fprintf(std.out, "ambito %q (%s, id %s) exists already: nothing changed\n", a.Code, a.Name, a.ID)
		return nil
	} else if !errs.Is(err, errs.NotFound) {
		return err
	}
	pw, err := newPassword(*password, std, "Password for "+*email+": ")
	if err != nil {
		return err
	}

	auditLog := audit.New(pool, audit.WithLogger(log))
	defer auditLog.Close(context.WithoutCancel(ctx))
	svc := identity.NewService(store, keys, auditLog, places.Default(), cfg, log)
	res, err := svc.EnsureBootstrap(ctx, identity.Bootstrap{AmbitoCode: *code, AmbitoName: *name, AziendaName: *azienda,
		AdminEmail: *email, AdminPassword: pw, AdminFiscalCode: *fiscal, AdminGivenName: *given, AdminFamilyName: *family})
	if err != nil {
		return describe(err)
	}
	if !res.Created {
		fmt.Fprintf(std.out, "ambito %q (id %s) exists already: nothing changed\n", res.Ambito.Code, res.Ambito.ID)
		return nil
	}
	fmt.Fprintf(std.out, "created ambito %q (%s), id %s\n", res.Ambito.Code, res.Ambito.Name, res.Ambito.ID)
	fmt.Fprintf(std.out, "  azienda consortile  %s, id %s\n", res.Azienda.Name, res.Azienda.ID)
	fmt.Fprintf(std.out, "  ambito_admin         %s %s <%s>, id %s\n", res.Admin.GivenName, res.Admin.FamilyName, res.Admin.Email, res.Admin.ID)
	fmt.Fprintf(std.out, "Sign in with: csictl token -email %s\n", res.Admin.Email)
	return nil
}

// newPassword returns the administrator's password: the -password flag when given, else
// $CSI_BOOTSTRAP_ADMIN_PASSWORD, else typed twice without echo on std.in when it is a terminal.
func newPassword(fromFlag string, std stdio, label string) (string, error) {
	if fromFlag != "" {
		return fromFlag, nil
	}
	if v := os.Getenv("CSI_BOOTSTRAP_ADMIN_PASSWORD"); v != "" {
		return v, nil
	}
	if std.in == nil || !term.IsTerminal(int(std.in.Fd())) {
		return "", errors.New("no password given: use -password, set CSI_BOOTSTRAP_ADMIN_PASSWORD, or run on a terminal to type it")
	}
	read := func(label string) (string, error) {
		fmt.Fprint(std.err, label)
		b, err := term.ReadPassword(int(std.in.Fd()))
		fmt.Fprintln(std.err)
		if err != nil {
			return "", fmt.Errorf("read from the terminal: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	pw, err := read(label)
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", errors.New("nothing typed")
	}
	again, err := read("Again: ")
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", errors.New("the two entries differ")
	}
	return pw, nil
}

// describe spells out the invalid fields of a validation error, one a line.
func describe(err error) error {
	var e *errs.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	msg := e.Message
	for _, f := range e.Fields {
		msg += fmt.Sprintf("\n  %s: %s", f.Field, f.Message)
	}
	return errors.New(msg)
}
