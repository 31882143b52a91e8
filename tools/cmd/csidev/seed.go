package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/tools/internal/demo"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
	"github.com/csi-lombardia/csi/tools/internal/prompt"
	"github.com/csi-lombardia/csi/tools/internal/suite"
)

// seedCmd loads the demo data into a running identity service (csidev seed).
func seedCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("csidev seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:8081", "URL of the identity service")
	email := fs.String("admin-email", demo.DemoEmail(auth.RoleAmbitoAdmin), "e-mail of an ambito administrator of the ambito to fill")
	password := fs.String("admin-password", "", "their password (default: $CSI_ADMIN_PASSWORD, the demo password for the demo administrator, else typed)")
	profile := fs.String("profile", "", "the administrator's profile id, when they have several")
	seed := fs.Uint64("seed", demo.DefaultSeed, "seed of the demo data")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	d, err := demo.Generate(*seed, places.Default())
	if err != nil {
		return fmt.Errorf("generate the demo data: %w", err)
	}
	pw := *password
	if pw == "" && os.Getenv("CSI_ADMIN_PASSWORD") == "" && *email == d.Admin().Email {
		pw = d.Admin().Password
	}
	pw, err = prompt.Secret(prompt.Source{Flag: pw, FlagArg: "-admin-password", Env: "CSI_ADMIN_PASSWORD",
		Label: "Password of " + *email + ": "}, os.Stdin, stderr)
	if err != nil {
		return err
	}
	c := idclient.New(*url, nil)
	tok, err := c.SignIn(ctx, *email, pw, *profile)
	if err != nil {
		return fmt.Errorf("sign in as %s: %w", *email, err)
	}
	if tok.Profile != nil && tok.Profile.Role != auth.RoleAmbitoAdmin {
		return fmt.Errorf("%s acts as %s: loading the demo data needs an ambito_admin", *email, tok.Profile.Role)
	}
	c.SetToken(tok.AccessToken)
	res, err := demo.Seed(ctx, c, d, demo.Options{Progress: stderr, Log: stderr})
	if err != nil {
		return err
	}
	if !res.Created() {
		fmt.Fprintln(stderr, "the demo data is already there")
	}
	fmt.Fprintln(stdout)
	printSignIns(stdout, d, *url, false)
	printClient(stdout, suite.ClientInfo{ID: res.Client.ID.String(), Secret: res.ClientSecret}, *url)
	return nil
}
