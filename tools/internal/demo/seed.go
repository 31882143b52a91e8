package demo

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/schollz/progressbar/v3"

	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
	"github.com/csi-lombardia/csi/tools/internal/progress"
)

// Options tune Seed.
type Options struct {
	// Progress, when not nil, shows a progress bar of the operator import.
	Progress io.Writer
	// Log, when not nil, gets a line for each step that creates something.
	Log io.Writer
}

// Result says what Seed created, and where the demo lives.
type Result struct {
	Organizations, Accreditations, DemoUsers, Operators int // created by this run
	// OrgIDs maps the keys of the demo organizations to their ids.
	OrgIDs map[string]uuid.UUID
	// Client is the demo machine client; ClientSecret is set only when this run created it
	// (the service shows a secret once).
	Client       identity.Client
	ClientSecret string
	// FeedClient is the demo population-register feed (FeedClientName); its secret likewise.
	FeedClient       identity.Client
	FeedClientSecret string
}

// Created reports whether this run created anything.
func (r Result) Created() bool {
	return r.Organizations+r.Accreditations+r.DemoUsers+r.Operators > 0 || r.ClientSecret != "" || r.FeedClientSecret != ""
}

// Seed loads d into the identity service behind c, whose token must be an ambito
// administrator's of the ambito to fill (the azienda consortile exists: the bootstrap made it).
// It creates only what is missing — organizations by ISTAT code, partita IVA or kind and name,
// accreditations by cooperative and service type, operators by e-mail — so running it again
// changes nothing, and a run cut short is completed by the next. Operators are imported through
// the bulk import, one request per organization.
func Seed(ctx context.Context, c *idclient.Client, d Data, opt Options) (Result, error) {
	logf := func(format string, args ...any) {
		if opt.Log != nil {
			fmt.Fprintf(opt.Log, format+"\n", args...)
		}
	}
	res := Result{OrgIDs: map[string]uuid.UUID{}}
	existing, err := c.Organizations(ctx, "")
	if err != nil {
		return res, fmt.Errorf("list organizations: %w", err)
	}
	for _, o := range d.Orgs() {
		if id, ok := findOrg(existing, o); ok {
			res.OrgIDs[o.Key] = id
			continue
		}
		if o.Kind == identity.OrgAzienda {
			return res, fmt.Errorf("the ambito has no azienda consortile: bootstrap it first")
		}
		created, err := c.CreateOrganization(ctx, o.Input())
		if err != nil {
			return res, fmt.Errorf("create %s: %w", o.Name, err)
		}
		res.OrgIDs[o.Key] = created.ID
		res.Organizations++
	}
	if res.Organizations > 0 {
		logf("created %d organizations", res.Organizations)
	}

	if err := seedAccreditations(ctx, c, d, &res); err != nil {
		return res, err
	}
	if res.Accreditations > 0 {
		logf("created %d accreditations", res.Accreditations)
	}

	ops, err := c.Operators(ctx, nil, "")
	if err != nil {
		return res, fmt.Errorf("list operators: %w", err)
	}
	known := map[string]bool{}
	for _, o := range ops {
		known[strings.ToLower(o.Email)] = true
	}
	for _, u := range append(slices.Clone(d.DemoUsers), d.ComuneWorkers...) {
		if known[strings.ToLower(u.Email)] {
			continue
		}
		in := identity.OperatorInput{FiscalCode: u.FiscalCode, GivenName: u.GivenName, FamilyName: u.FamilyName,
			Email: u.Email, Phone: u.Phone, Password: u.Password,
			Profiles: []identity.ProfileInput{{OrganizationID: res.OrgIDs[u.OrgKey], Role: u.Role, ValidFrom: u.ValidFrom}}}
		if _, err := c.CreateOperator(ctx, in); err != nil {
			return res, fmt.Errorf("create demo user %s: %w", u.Email, err)
		}
		res.DemoUsers++
	}
	if res.DemoUsers > 0 {
		logf("created %d demo sign-ins", res.DemoUsers)
	}

	if err := seedOperators(ctx, c, d, known, opt.Progress, &res); err != nil {
		return res, err
	}
	if res.Operators > 0 {
		logf("imported %d operators", res.Operators)
	}

	clients, err := c.Clients(ctx)
	if err != nil {
		return res, fmt.Errorf("list clients: %w", err)
	}
	if res.Client, res.ClientSecret, err = ensureClient(ctx, c, clients, ClientName, ClientScopes, logf); err != nil {
		return res, err
	}
	if res.FeedClient, res.FeedClientSecret, err = ensureClient(ctx, c, clients, FeedClientName, FeedClientScopes, logf); err != nil {
		return res, err
	}
	return res, nil
}

// IntakeClient finds or creates the intake service's own machine client (IntakeClientName, with
// IntakeClientScopes); the secret is returned only when it was created. It is not demo data:
// intake needs it to start, with or without the demo ambito's data.
func IntakeClient(ctx context.Context, c *idclient.Client) (identity.Client, string, error) {
	return EnsureServiceClient(ctx, c, ServiceClients[0])
}

// EnsureServiceClient finds or creates a service's own machine client (ServiceClients); the
// secret is returned only when it was created.
func EnsureServiceClient(ctx context.Context, c *idclient.Client, sc ServiceClient) (identity.Client, string, error) {
	clients, err := c.Clients(ctx)
	if err != nil {
		return identity.Client{}, "", fmt.Errorf("list clients: %w", err)
	}
	return ensureClient(ctx, c, clients, sc.Name, sc.Scopes, func(string, ...any) {})
}

// ensureClient finds the active client named name among clients or creates it; the secret is
// returned only when it was created. A client made by an earlier checkout without some of the
// scopes it needs now (a service that calls one more endpoint) is disabled and made again.
func ensureClient(ctx context.Context, c *idclient.Client, clients []identity.Client, name string, scopes []string,
	logf func(string, ...any)) (identity.Client, string, error) {
	for _, cl := range clients {
		if cl.Name != name || !cl.Active {
			continue
		}
		missing := slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return slices.Contains(cl.Scopes, s) })
		if len(missing) == 0 {
			return cl, "", nil
		}
		if err := c.DisableClient(ctx, cl.ID); err != nil {
			return identity.Client{}, "", fmt.Errorf("disable the machine client %q, which lacks %v: %w", name, missing, err)
		}
		logf("disabled the machine client %q: it lacked the scopes %v", name, missing)
	}
	cl, err := c.CreateClient(ctx, identity.ClientInput{Name: name, Scopes: scopes})
	if err != nil {
		return identity.Client{}, "", fmt.Errorf("create the machine client %q: %w", name, err)
	}
	logf("created the machine client %q", name)
	return cl.Client, cl.Secret, nil
}

// findOrg finds the demo organization o among the ambito's.
func findOrg(existing []identity.Organization, o Org) (uuid.UUID, bool) {
	for _, e := range existing {
		if e.Kind != o.Kind {
			continue
		}
		switch {
		case o.ISTATCode != "" && e.ISTATCode == o.ISTATCode,
			o.TaxCode != "" && e.TaxCode == o.TaxCode,
			o.ISTATCode == "" && o.TaxCode == "" && (e.Name == o.Name || o.Kind == identity.OrgAzienda):
			return e.ID, true
		}
	}
	return uuid.Nil, false
}

func seedAccreditations(ctx context.Context, c *idclient.Client, d Data, res *Result) error {
	accs, err := c.Accreditations(ctx)
	if err != nil {
		return fmt.Errorf("list accreditations: %w", err)
	}
	have := map[string]bool{}
	for _, a := range accs {
		have[a.CooperativeID.String()+"/"+string(a.ServiceType)] = true
	}
	for _, coop := range d.Cooperatives {
		id := res.OrgIDs[coop.Key]
		for _, a := range coop.Accreditations {
			if have[id.String()+"/"+string(a.ServiceType)] {
				continue
			}
			_, err := c.CreateAccreditation(ctx, identity.AccreditationInput{CooperativeID: id, ServiceType: a.ServiceType,
				ValidFrom: a.ValidFrom, HourlyTariffCents: a.HourlyTariffCents})
			if err != nil {
				return fmt.Errorf("accredit %s for %s: %w", coop.Name, a.ServiceType, err)
			}
			res.Accreditations++
		}
	}
	return nil
}

// importColumns are the columns of the CSV files Seed imports; the organization comes from
// the request.
var importColumns = []string{"fiscal_code", "given_name", "family_name", "email", "phone", "role", "valid_from"}

// seedOperators imports the operators not yet known, one request (or a few, past the row
// limit) per organization.
func seedOperators(ctx context.Context, c *idclient.Client, d Data, known map[string]bool, w io.Writer, res *Result) error {
	byOrg := map[string][]Person{}
	total := 0
	for _, p := range d.Operators {
		if !known[strings.ToLower(p.Email)] {
			byOrg[p.OrgKey] = append(byOrg[p.OrgKey], p)
			total++
		}
	}
	if total == 0 {
		return nil
	}
	var bar *progressbar.ProgressBar
	if w != nil {
		bar = progress.New(w, total, "importing operators")
		defer func() { _ = bar.Exit() }()
	}
	for _, org := range d.Orgs() {
		people := byOrg[org.Key]
		if len(people) == 0 {
			continue
		}
		chunks, err := idclient.SplitCSV(bytes.NewReader(operatorsCSV(people)), identity.MaxImportRows)
		if err != nil {
			return err
		}
		id := res.OrgIDs[org.Key]
		done := 0
		_, err = c.ImportChunks(ctx, chunks, identity.ImportDefaults{OrganizationID: &id}, func(n int) {
			if bar != nil {
				_ = bar.Add(n - done)
			}
			res.Operators += n - done
			done = n
		})
		if err != nil {
			return fmt.Errorf("import the operators of %s: %w", org.Name, err)
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	return nil
}

// operatorsCSV writes people as an import file.
func operatorsCSV(people []Person) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(importColumns)
	for _, p := range people {
		_ = w.Write([]string{p.FiscalCode, p.GivenName, p.FamilyName, p.Email, p.Phone, string(p.Role), p.ValidFrom})
	}
	w.Flush()
	return b.Bytes()
}
