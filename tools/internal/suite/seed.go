package suite

import (
	"context"
	"fmt"
	"io"

	"github.com/csi-lombardia/csi/tools/internal/demo"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
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
}

// seed runs the seed steps of the running services.
func (s *Suite) seed(ctx context.Context) error {
	for _, st := range seedSteps {
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
	info := ClientInfo{ID: res.Client.ID.String()}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case res.ClientSecret != "":
		info.Secret = res.ClientSecret
		s.cfg.secrets[KeyClientID], s.cfg.secrets[KeyClientSecret] = info.ID, info.Secret
		if err := saveSecrets(s.secretsPath(), s.cfg.secrets); err != nil {
			return err
		}
	case s.cfg.secrets[KeyClientID] == info.ID:
		info.Secret = s.cfg.secrets[KeyClientSecret]
	}
	s.client = info
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
