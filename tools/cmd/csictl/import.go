package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
	"github.com/csi-lombardia/csi/tools/internal/progress"
)

// importCmd uploads a CSV file of operators through POST /v1/operators:import, in chunks of at
// most 5000 rows, with a progress bar; a refused chunk's errors are printed one a line, named
// by the row's line in the whole file.
func importCmd(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("import-operators", std)
	sf := addSignInFlags(fs)
	file := fs.String("file", "", "the CSV file (- for standard input); columns: "+fmt.Sprint(identity.ImportColumns))
	org := fs.String("organization", "", "organization id for the rows that leave organization_id empty")
	role := fs.String("role", "", "role for the rows that leave role empty")
	token := fs.String("token", "", "an access token to use instead of signing in (default $CSI_TOKEN)")
	chunk := fs.Int("chunk", identity.MaxImportRows, "rows per request, at most 5000")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: csictl import-operators -file operators.csv [flags]\n\nImports operators through the identity service, in chunks: each chunk is all or nothing, and\nthe import stops at the first chunk refused (the chunks before it stay imported).\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" {
		fmt.Fprintln(std.err, "csictl import-operators: -file is required")
		return errUsage
	}
	if *chunk < 1 || *chunk > identity.MaxImportRows {
		return fmt.Errorf("-chunk must be from 1 to %d", identity.MaxImportRows)
	}
	var def identity.ImportDefaults
	if *org != "" {
		id, err := uuid.Parse(*org)
		if err != nil {
			return fmt.Errorf("-organization %q is not an id", *org)
		}
		def.OrganizationID = &id
	}
	if *role != "" {
		def.Role = auth.Role(*role)
		if !def.Role.Valid() {
			return fmt.Errorf("-role %q is not a role", *role)
		}
	}

	var in io.Reader = os.Stdin
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	chunks, err := idclient.SplitCSV(in, *chunk)
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	total := 0
	for _, c := range chunks {
		total += c.Rows
	}

	tok := *token
	if tok == "" {
		tok = os.Getenv("CSI_TOKEN")
	}
	var c *idclient.Client
	if tok != "" {
		c = idclient.New(*sf.url, nil)
		c.SetToken(tok)
	} else if c, _, err = sf.signIn(ctx, std); err != nil {
		return err
	}

	bar := progress.New(std.err, total, "importing operators")
	done := 0
	imported, err := c.ImportChunks(ctx, chunks, def, func(n int) {
		_ = bar.Add(n - done)
		done = n
	})
	if err != nil {
		_ = bar.Exit()
		fmt.Fprintln(std.err)
		return reportImport(std, imported, total, err)
	}
	_ = bar.Finish()
	fmt.Fprintf(std.out, "imported %d operators\n", imported)
	return nil
}

// reportImport prints why an import stopped: the problem and each refused row.
func reportImport(std stdio, imported, total int, err error) error {
	var p *idclient.Problem
	if !errors.As(err, &p) {
		return err
	}
	if len(p.Errors) == 0 {
		fmt.Fprintf(std.err, "import refused: %v\n", p)
	} else {
		fmt.Fprintf(std.err, "import refused: %s (HTTP %d)\n", p.Detail, p.Status)
		for _, f := range p.Errors {
			fmt.Fprintf(std.err, "  %s: %s\n", f.Field, f.Message)
		}
	}
	if imported > 0 {
		fmt.Fprintf(std.err, "the chunks before were imported: %d of %d rows (rows[2] to rows[%d]); import the rest once fixed\n",
			imported, total, imported+1)
	} else {
		fmt.Fprintln(std.err, "nothing was imported")
	}
	return errReported
}
