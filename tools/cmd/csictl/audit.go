package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
)

// auditCmd dispatches the audit subcommands.
func auditCmd(ctx context.Context, args []string, std stdio) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(std.err, "Usage: csictl audit verify [flags]\n\nCommands:\n  verify   verify the audit trail of one service or several (GET /v1/audit:verify)")
		return errUsage
	}
	return auditVerifyCmd(ctx, args[1:], std)
}

// urlList is a repeatable flag of URLs (also comma-separated).
type urlList []string

func (u *urlList) String() string { return strings.Join(*u, ",") }
func (u *urlList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*u = append(*u, s)
		}
	}
	return nil
}

// auditVerifyCmd asks each service to verify its audit trail now and prints the result, naming
// the first broken record; it fails (exit status 1) when a trail is broken or could not be
// verified.
func auditVerifyCmd(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("audit verify", std)
	sf := addSignInFlags(fs)
	token := fs.String("token", "", "an access token of a privacy officer to use instead of signing in (default $CSI_TOKEN)")
	var services urlList
	fs.Var(&services, "service", "URL of a service to verify, repeatable or comma-separated (default $CSI_AUDIT_SERVICES, else the identity service (-url) and $CSI_REGISTRY_URL, else http://127.0.0.1:8082)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: csictl audit verify [flags]\n\nAsks each service to verify its whole audit trail now (GET /v1/audit:verify, privacy officer\nonly) and prints the result; exits with status 1 when a trail is broken or could not be verified.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if len(services) == 0 {
		if env := os.Getenv("CSI_AUDIT_SERVICES"); env != "" {
			_ = services.Set(env)
		} else {
			services = urlList{*sf.url, envOr("CSI_REGISTRY_URL", "http://127.0.0.1:8082")}
		}
	}
	tok := *token
	if tok == "" {
		tok = os.Getenv("CSI_TOKEN")
	}
	if tok == "" {
		var err error
		if _, tok, err = sf.signIn(ctx, std); err != nil {
			return err
		}
	}
	failed := false
	for _, u := range services {
		c := idclient.New(u, nil)
		c.SetToken(tok)
		name, _, err := c.Health(ctx)
		if err != nil || name == "" {
			name = "service"
		}
		rep, err := c.VerifyAudit(ctx)
		if err != nil {
			fmt.Fprintf(std.out, "%s (%s): NOT VERIFIED: %v\n", name, u, err)
			failed = true
			continue
		}
		printVerification(std.out, name, u, rep)
		failed = failed || !rep.OK
	}
	if failed {
		return errReported
	}
	return nil
}

// printVerification writes one service's result for a human.
func printVerification(w io.Writer, name, url string, r audit.VerifyResponse) {
	status := "OK"
	if !r.OK {
		status = "BROKEN"
	}
	fmt.Fprintf(w, "%s (%s): %s: %d records in %d chains checked in %.2fs\n", name, url, status, r.Records, r.Chains, r.DurationSeconds)
	if r.Checkpoints.Enabled {
		fmt.Fprintf(w, "  checkpoints: %d chains compared with their signed checkpoint (key %s)\n", r.Checkpoints.Chains, r.Checkpoints.KeyID)
	} else {
		fmt.Fprintln(w, "  checkpoints: off (a deleted tail of a chain would go unnoticed)")
	}
	if r.OK {
		return
	}
	more := ""
	if r.Truncated {
		more = " (more not listed)"
	}
	fmt.Fprintf(w, "  %d problems%s\n", len(r.Problems), more)
	for i, p := range r.Problems {
		lead := "  then:        "
		if i == 0 {
			lead = "  first broken:"
		}
		if i == 10 {
			fmt.Fprintf(w, "  … and %d more\n", len(r.Problems)-i)
			break
		}
		where := fmt.Sprintf("chain %s seq %d", p.ChainID, p.Seq)
		if p.RecordID != "" {
			where += " record " + p.RecordID
		}
		if p.Scope == audit.ScopeOtherAmbito {
			where += " (a record of another ambito)"
		}
		line := fmt.Sprintf("%s %s: %s", lead, where, p.What)
		if p.Detail != "" {
			line += ": " + p.Detail
		}
		fmt.Fprintln(w, line)
	}
}

var _ flag.Value = (*urlList)(nil)
