package suite

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/csi-lombardia/csi/tools/internal/catalog"
)

// service is one service of the suite: the binary bin/<name> built from
// ./services/<name>/cmd/<name>, listening on Options.PortBase + offset, with the database
// <Options.DBPrefix><name>.
type service struct {
	name   string
	offset int // its port in services/services.tsv minus identity's
}

// loadServices reads the suite's services from services/services.tsv (package catalog), in
// start order: identity first (the others verify its tokens). Adding a service is adding its
// line there; the suite runs the services whose command exists in the checkout and says which
// it skipped. A service's port is Options.PortBase plus its distance from identity's port in
// the file, so the default PortBase (identity's port, the second result) gives every service
// the port of the file.
func loadServices(root string) ([]service, int, error) {
	list, err := catalog.Read(root)
	if err != nil {
		return nil, 0, err
	}
	if list[0].Name != "identity" {
		return nil, 0, fmt.Errorf("%s: the first service is %s: identity must start first", catalog.Path, list[0].Name)
	}
	svcs := make([]service, len(list))
	for i, s := range list {
		svcs[i] = service{name: s.Name, offset: s.Port - list[0].Port}
	}
	return svcs, list[0].Port, nil
}

// pkgDir is the service's command package, relative to the repository.
func (s service) pkgDir() string { return filepath.Join("services", s.name, "cmd", s.name) }

// present reports whether the checkout has the service's command.
func (s service) present(root string) bool {
	_, err := os.Stat(filepath.Join(root, s.pkgDir(), "main.go"))
	return err == nil
}

// config is the configuration of one suite that the services' environments come from.
type config struct {
	root      string
	runDir    string // .run: logs, secrets, audit checkpoints
	host      string
	portBase  int
	dbURLs    map[string]string // service name -> database URL
	secrets   map[string]string
	bootstrap map[string]string // CSI_BOOTSTRAP_... of identity
	redisURL  string            // "" when the suite runs without Redis (an in-process cache)
	extra     map[string][]string
}

func (c config) port(s service) int { return c.portBase + s.offset }

func (c config) url(s service) string {
	return "http://" + c.host + ":" + strconv.Itoa(c.port(s))
}

// env is the environment of service s: the tool's own, then the settings every service reads,
// the URL of every peer (CSI_<NAME>_URL), and the service's own secrets.
func (c config) env(s service, all []service) []string {
	identity := all[0] // Start checks that identity is present, and first
	env := append(os.Environ(),
		"CSI_DATABASE_URL="+c.dbURLs[s.name],
		"CSI_HTTP_ADDR="+c.host+":"+strconv.Itoa(c.port(s)),
		"CSI_LOG_FORMAT=text",
		"CSI_JWKS_URL="+c.url(identity)+"/.well-known/jwks.json",
		// Nothing balances load in front of a laptop: stop at once, and quickly.
		"CSI_DRAIN_DELAY=0s",
		"CSI_SHUTDOWN_GRACE=5s",
		// Signed audit checkpoints in the run directory, every service under its own prefix.
		"CSI_AUDIT_CHECKPOINT_KEY="+c.secrets[keyCheckpointKey],
		"CSI_AUDIT_CHECKPOINT_DIR="+filepath.Join(c.runDir, "audit-checkpoints"),
	)
	if c.redisURL != "" {
		env = append(env, "CSI_REDIS_URL="+c.redisURL)
	}
	for _, p := range all {
		env = append(env, "CSI_"+strings.ToUpper(p.name)+"_URL="+c.url(p))
	}
	prefix := "CSI_" + strings.ToUpper(s.name) + "_"
	for k, v := range c.secrets {
		if strings.HasPrefix(k, prefix) && s.name != identity.name {
			env = append(env, k+"="+v)
		}
	}
	if s.name == "interventions" {
		// The authorizations' documents in the run directory (no S3 server in make run), their
		// download links signed and served by interventions itself.
		env = append(env, "CSI_INTERVENTIONS_DOCUMENTS_DIR="+filepath.Join(c.runDir, "documents"),
			"CSI_INTERVENTIONS_DOCUMENTS_LINK_BASE="+c.url(s)+"/v1/documents:download")
	}
	if s.name == identity.name {
		env = append(env, "CSI_IDENTITY_MASTER_KEY="+c.secrets[keyMasterKey])
		for k, v := range c.bootstrap {
			env = append(env, k+"="+v)
		}
	}
	return append(env, c.extra[s.name]...)
}

// ldflags stamps the binaries as pkg/app expects.
func ldflags(commit string) string {
	return fmt.Sprintf("-X github.com/csi-lombardia/csi/pkg/app.Version=dev -X github.com/csi-lombardia/csi/pkg/app.Commit=%s", commit)
}
