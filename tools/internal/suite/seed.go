package suite

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/tools/internal/demo"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
	"github.com/csi-lombardia/csi/tools/internal/regclient"
	"github.com/csi-lombardia/csi/tools/internal/synth"
)

// seedStep loads one service's part of the demo data into the running suite.
type seedStep struct {
	service string
	load    func(ctx context.Context, s *Suite) error
}

// seedSteps are the demo data's steps, in order: one per service, run when the service is in
// the checkout. A service's demo data joins by adding its step here (and its function below).
var seedSteps = []seedStep{
	{"identity", seedIdentity},
	{"registry", seedRegistry},
	{"intake", seedIntake},
	{"interventions", seedInterventions},
}

// seed runs the seed steps of the running services but the first (identity's, run as soon as
// identity is up: Start).
func (s *Suite) seed(ctx context.Context) error {
	for _, st := range seedSteps[1:] {
		if s.proc(st.service) == nil {
			continue
		}
		if err := st.load(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// seedIdentity signs in as the demo administrator, loads the organizations, accreditations,
// operators and machine client of the demo data, and keeps the machine client's secret in the
// secrets file when it was just created (the service shows it only once).
func seedIdentity(ctx context.Context, s *Suite) error {
	c := idclient.New(s.URL("identity"), nil)
	admin := s.data.Admin()
	tok, err := c.SignIn(ctx, admin.Email, admin.Password, "")
	if err != nil {
		return fmt.Errorf("sign in as the demo administrator %s (changed the password? run with -no-seed): %w", admin.Email, err)
	}
	c.SetToken(tok.AccessToken)
	res, err := demo.Seed(ctx, c, s.data, demo.Options{Progress: s.o.Log, Log: indent{s.o.Log}})
	if err != nil {
		return err
	}
	if !res.Created() {
		fmt.Fprintln(s.o.Log, "    the demo data is already there")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.data.Cooperatives {
		if id, ok := res.OrgIDs[c.Key]; ok {
			s.cooperatives = append(s.cooperatives, id)
		}
	}
	if s.client, err = s.keepSecret(res.Client.ID.String(), res.ClientSecret, KeyClientID, KeyClientSecret); err != nil {
		return err
	}
	s.feedClient, err = s.keepSecret(res.FeedClient.ID.String(), res.FeedClientSecret, KeyFeedClientID, KeyFeedClientSecret)
	return err
}

// serviceClients makes the machine clients the services in the checkout need to start
// (demo.ServiceClients: intake's, for its calls to the registry; interventions', for the
// accreditations at identity) as the bootstrap administrator, and keeps their secrets in the
// secrets file, whence config.env hands them to the service (CSI_<SERVICE>_CLIENT_ID and
// _CLIENT_SECRET). They are made whether or not the demo data is loaded.
func (s *Suite) serviceClients(ctx context.Context) error {
	var need []demo.ServiceClient
	for _, sc := range demo.ServiceClients {
		if s.has(sc.Service) {
			need = append(need, sc)
		}
	}
	if len(need) == 0 {
		return nil
	}
	c := idclient.New(s.URL("identity"), nil)
	admin := s.data.Admin()
	tok, err := c.SignIn(ctx, admin.Email, admin.Password, "")
	if err != nil {
		return fmt.Errorf("sign in as the bootstrap administrator %s to make the services' clients: %w", admin.Email, err)
	}
	c.SetToken(tok.AccessToken)
	for _, sc := range need {
		if err := s.serviceClient(ctx, c, sc); err != nil {
			return err
		}
	}
	return nil
}

// clientKeys are the secrets-file keys of a service's own client: CSI_<SERVICE>_CLIENT_ID and
// CSI_<SERVICE>_CLIENT_SECRET (KeyIntakeClientID, KeyIntakeClientSecret for intake).
func clientKeys(service string) (id, secret string) {
	prefix := "CSI_" + strings.ToUpper(strings.ReplaceAll(service, "-", "_")) + "_CLIENT_"
	return prefix + "ID", prefix + "SECRET"
}

func (s *Suite) serviceClient(ctx context.Context, c *idclient.Client, sc demo.ServiceClient) error {
	idKey, secretKey := clientKeys(sc.Service)
	cl, secret, err := demo.EnsureServiceClient(ctx, c, sc)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	info, err := s.keepSecret(cl.ID.String(), secret, idKey, secretKey)
	if err != nil || info.Secret != "" {
		return err
	}
	// A client whose secret the file does not hold (the file was deleted, or another suite on
	// the same run directory, such as make bench's on its own databases, wrote its own client
	// there) gets a new secret: the service cannot start without one, and nothing else uses it.
	rotated, err := c.RotateClientSecret(ctx, cl.ID)
	if err != nil {
		return fmt.Errorf("%s's machine client %s has no secret in %s: give it a new one: %w", sc.Service, cl.ID, s.secretsPath(), err)
	}
	fmt.Fprintf(s.o.Log, "    gave %s's machine client a new secret (its secret was not in %s)\n", sc.Service, s.secretsPath())
	_, err = s.keepSecret(cl.ID.String(), rotated.Secret, idKey, secretKey)
	return err
}

// keepSecret returns a demo client with its secret: the one just created (kept in the secrets
// file under the keys idKey and secretKey), or the one the file kept when the client was made.
// The caller holds s.mu.
func (s *Suite) keepSecret(id, secret, idKey, secretKey string) (ClientInfo, error) {
	info := ClientInfo{ID: id}
	switch {
	case secret != "":
		info.Secret = secret
		s.cfg.secrets[idKey], s.cfg.secrets[secretKey] = id, secret
		if err := saveSecrets(s.secretsPath(), s.cfg.secrets); err != nil {
			return ClientInfo{}, err
		}
	case s.cfg.secrets[idKey] == id:
		info.Secret = s.cfg.secrets[secretKey]
	}
	return info, nil
}

// DemoCitizens is how many synthetic residents the demo ambito's registry holds.
const DemoCitizens = 4_000

// seedRegistry loads the demo citizens (synth, seeded with the demo seed) into the registry as
// the population-register feed would: one extract per comune, skipped for a comune that has
// residents already.
func seedRegistry(ctx context.Context, s *Suite) error {
	feed := s.feedClient
	if feed.Secret == "" {
		fmt.Fprintf(s.o.Log, "    no secret for the demo population-register feed in %s: demo citizens not loaded\n", s.secretsPath())
		return nil
	}
	ic := idclient.New(s.URL("identity"), nil)
	rc := &regclient.Client{BaseURL: s.URL("registry"), Token: func(ctx context.Context) (string, error) {
		tok, err := ic.ClientCredentials(ctx, feed.ID, feed.Secret)
		return tok.AccessToken, err
	}}
	comuni, err := synth.DemoComuni(places.Default())
	if err != nil {
		return err
	}
	people, err := synth.New(s.data.Seed, places.Default(), synth.Epoch).Ambito(comuni, DemoCitizens)
	if err != nil {
		return err
	}
	loaded := 0
	for i, c := range comuni {
		there, err := rc.Residents(ctx, c.ISTAT)
		if err != nil {
			return fmt.Errorf("registry: %w", err)
		}
		if there {
			continue
		}
		if _, err := rc.ImportPeople(ctx, c.ISTAT, people[i], nil); err != nil {
			return fmt.Errorf("registry: %w", err)
		}
		loaded += len(people[i])
	}
	if loaded > 0 {
		fmt.Fprintf(s.o.Log, "    imported %d synthetic citizens of the %d comuni into the registry\n", loaded, len(comuni))
	}
	return nil
}

// seedIntake records the demo accesses and cases (demo.SeedIntake) through intake, as each
// comune's demo social worker.
func seedIntake(ctx context.Context, s *Suite) error {
	if s.proc("registry") == nil {
		fmt.Fprintln(s.o.Log, "    registry is not running: no intake demo data")
		return nil
	}
	res, err := demo.SeedIntake(ctx, s.data, demo.IntakeOptions{IdentityURL: s.URL("identity"), RegistryURL: s.URL("registry"),
		IntakeURL: s.URL("intake"), Cooperatives: s.cooperatives, Log: indent{s.o.Log}})
	if err != nil {
		return fmt.Errorf("intake: %w", err)
	}
	if res.Accesses > 0 {
		fmt.Fprintf(s.o.Log, "    recorded %d accesses and %d cases (%d assessed, %d with a PAI, %d closed) in intake\n",
			res.Accesses, res.Cases, res.Assessments, res.Plans, res.Closed)
	}
	return nil
}

// indent writes each line to w indented under the step that prints it. Seed writes whole
// lines.
type indent struct{ w io.Writer }

func (i indent) Write(b []byte) (int, error) {
	if _, err := i.w.Write(append([]byte("    "), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// coopClientKeys are the secrets-file keys of the machine client of the demo cooperative n
// (from 1, in the order of the demo data): CSI_DEMO_COOP_01_CLIENT_ID and _SECRET for the first.
func coopClientKeys(n int) (id, secret string) {
	prefix := fmt.Sprintf("CSI_DEMO_COOP_%02d_CLIENT_", n)
	return prefix + "ID", prefix + "SECRET"
}

// seedInterventions gives every demo cooperative its management system's machine client
// (demo.EnsureCoopClients; secrets kept in the secrets file, a new one given when the file lost
// it), then records the interventions demo data (demo.SeedInterventions): authorizations for
// intake's open cases, and three months of visits posted by each cooperative's client.
func seedInterventions(ctx context.Context, s *Suite) error {
	if s.proc("intake") == nil {
		fmt.Fprintln(s.o.Log, "    intake is not running: no interventions demo data")
		return nil
	}
	began := time.Now()
	c := idclient.New(s.URL("identity"), nil)
	admin := s.data.Admin()
	tok, err := c.SignIn(ctx, admin.Email, admin.Password, "")
	if err != nil {
		return fmt.Errorf("sign in as the demo administrator %s: %w", admin.Email, err)
	}
	c.SetToken(tok.AccessToken)
	clients, err := demo.EnsureCoopClients(ctx, c, s.data)
	if err != nil {
		return err
	}
	s.mu.Lock()
	for n, coop := range s.data.Cooperatives {
		cc := clients[coop.Key]
		idKey, secretKey := coopClientKeys(n + 1)
		info, err := s.keepSecret(cc.ID.String(), cc.Secret, idKey, secretKey)
		if err == nil && info.Secret == "" {
			var rotated identity.ClientWithSecret
			if rotated, err = c.RotateClientSecret(ctx, cc.ID); err == nil {
				info, err = s.keepSecret(cc.ID.String(), rotated.Secret, idKey, secretKey)
			}
		}
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("the machine client of %s: %w", coop.Name, err)
		}
		cc.Secret = info.Secret
		clients[coop.Key] = cc
		if n == 0 {
			s.coopClient = ClientInfo{ID: info.ID, Secret: info.Secret}
		}
	}
	s.mu.Unlock()
	res, err := demo.SeedInterventions(ctx, s.data, demo.InterventionsOptions{IdentityURL: s.URL("identity"), IntakeURL: s.URL("intake"),
		InterventionsURL: s.URL("interventions"), Admin: c, Clients: clients, Log: indent{s.o.Log}})
	if err != nil {
		return fmt.Errorf("interventions: %w", err)
	}
	if res.Authorizations+res.Visits > 0 {
		fmt.Fprintf(s.o.Log, "    recorded %d authorizations and %d visits (%d refused) in interventions in %s\n",
			res.Authorizations, res.Visits, res.Refused, time.Since(began).Round(100*time.Millisecond))
	}
	return nil
}
