package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/csi-lombardia/csi/tools/internal/idclient"
	"github.com/csi-lombardia/csi/tools/internal/prompt"
)

// signInFlags are the flags of the commands that sign in to the identity service.
type signInFlags struct {
	url, email, password, profile *string
}

func addSignInFlags(fs *flag.FlagSet) signInFlags {
	return signInFlags{
		url:      fs.String("url", envOr("CSI_IDENTITY_URL", "http://127.0.0.1:8081"), "URL of the identity service (default $CSI_IDENTITY_URL, else http://127.0.0.1:8081)"),
		email:    fs.String("email", envOr("CSI_EMAIL", ""), "e-mail to sign in with (default $CSI_EMAIL)"),
		password: fs.String("password", "", "the password (default $CSI_PASSWORD, else typed on the terminal)"),
		profile:  fs.String("profile", "", "the profile id to act in, for an operator with several"),
	}
}

// signIn returns a client of the identity service holding an access token of the operator.
func (f signInFlags) signIn(ctx context.Context, std stdio) (*idclient.Client, string, error) {
	if *f.email == "" {
		return nil, "", errors.New("no e-mail: use -email or set CSI_EMAIL")
	}
	pw, err := prompt.Secret(prompt.Source{Flag: *f.password, FlagArg: "-password", Env: "CSI_PASSWORD",
		Label: "Password for " + *f.email + ": "}, std.in, std.err)
	if err != nil {
		return nil, "", err
	}
	c := idclient.New(*f.url, nil)
	tok, err := c.SignIn(ctx, *f.email, pw, *f.profile)
	var p *idclient.Problem
	if errors.As(err, &p) && len(p.Profiles) > 0 {
		fmt.Fprintf(std.err, "%s has several profiles; choose one with -profile:\n", *f.email)
		for _, c := range p.Profiles {
			fmt.Fprintf(std.err, "  -profile %s   %s in %s\n", c.ID, c.Role, c.OrganizationName)
		}
		return nil, "", errReported
	}
	if err != nil {
		return nil, "", fmt.Errorf("sign in as %s: %w", *f.email, err)
	}
	c.SetToken(tok.AccessToken)
	return c, tok.AccessToken, nil
}

// tokenCmd signs in and prints the access token, alone on stdout so that it can be captured:
// TOKEN=$(csictl token -email ...).
func tokenCmd(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("token", std)
	sf := addSignInFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	_, tok, err := sf.signIn(ctx, std)
	if err != nil {
		return err
	}
	fmt.Fprintln(std.out, tok)
	return nil
}
