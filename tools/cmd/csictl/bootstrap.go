package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/services/identity/postgres"
	"github.com/csi-lombardia/csi/tools/internal/prompt"
)

// bootstrapCmd creates the first ambito, its azienda consortile and its ambito administrator
// directly on the identity database, after applying the identity migrations (the same sets
// the service applies). It changes nothing when the ambito exists already.
func bootstrapCmd(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("bootstrap", std)
	dbURL := fs.String("database-url", "", "the identity database (default $CSI_DATABASE_URL)")
	code := fs.String("ambito-code", envOr("CSI_BOOTSTRAP_AMBITO_CODE", ""), "code of the ambito (default $CSI_BOOTSTRAP_AMBITO_CODE)")
	name := fs.String("ambito-name", envOr("CSI_BOOTSTRAP_AMBITO_NAME", ""), "name of the ambito (default $CSI_BOOTSTRAP_AMBITO_NAME)")
	azienda := fs.String("azienda-name", envOr("CSI_BOOTSTRAP_AZIENDA_NAME", ""), "name of the azienda consortile (default $CSI_BOOTSTRAP_AZIENDA_NAME, else \"Azienda consortile <ambito name>\")")
	email := fs.String("email", envOr("CSI_BOOTSTRAP_ADMIN_EMAIL", ""), "the administrator's e-mail (default $CSI_BOOTSTRAP_ADMIN_EMAIL)")
	fiscal := fs.String("fiscal-code", envOr("CSI_BOOTSTRAP_ADMIN_FISCAL_CODE", ""), "their codice fiscale (default $CSI_BOOTSTRAP_ADMIN_FISCAL_CODE)")
	given := fs.String("given-name", envOr("CSI_BOOTSTRAP_ADMIN_GIVEN_NAME", ""), "their given name (default $CSI_BOOTSTRAP_ADMIN_GIVEN_NAME)")
	family := fs.String("family-name", envOr("CSI_BOOTSTRAP_ADMIN_FAMILY_NAME", ""), "their family name (default $CSI_BOOTSTRAP_ADMIN_FAMILY_NAME)")
	password := fs.String("password", "", "their password (default $CSI_BOOTSTRAP_ADMIN_PASSWORD, else typed on the terminal)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: csictl bootstrap [flags]\n\nCreates the first ambito, its azienda consortile and its ambito administrator on the identity\ndatabase, applying the migrations first. The master key that seals the signing keys comes from\n$CSI_IDENTITY_MASTER_KEY (32 bytes, base64), the same as the service's. Nothing changes when the\nambito exists already.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
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
		*dbURL = envOr("CSI_DATABASE_URL", "")
	}
	if *dbURL == "" {
		return errors.New("no database: use -database-url or set CSI_DATABASE_URL")
	}
	master, err := base64.StdEncoding.DecodeString(envOr("CSI_IDENTITY_MASTER_KEY", ""))
	if err != nil || len(master) != 32 {
		return errors.New("CSI_IDENTITY_MASTER_KEY must be set to the service's master key: 32 bytes, base64")
	}

	log := slog.New(slog.NewTextHandler(std.err, nil))
	pool, err := pgdb.Open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	// The same sets as services/identity/cmd/identity.
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
	pw, err := prompt.Secret(prompt.Source{Flag: *password, FlagArg: "-password", Env: "CSI_BOOTSTRAP_ADMIN_PASSWORD",
		Label: "Password for " + *email + ": ", Confirm: true}, std.in, std.err)
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
