package peers

import (
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/discovery"
	"github.com/csi-lombardia/csi/pkg/errs"
)

// Settings is the configuration of a service's calls to its peers, read from CSI_...
// variables by LoadSettings.
type Settings struct {
	Service      string            // the calling service, e.g. "intake"
	ConsulAddr   string            // CSI_CONSUL_ADDR (app.Base.ConsulAddr): peers from Consul when set
	URLs         map[string]string // CSI_<PEER>_URL by peer name: peers' base URLs when there is no Consul
	IdentityURL  string            // CSI_IDENTITY_URL: the token endpoint is IdentityURL + auth.TokenPath
	ClientID     string            // CSI_<SERVICE>_CLIENT_ID: the service's machine client in identity
	ClientSecret string            // CSI_<SERVICE>_CLIENT_SECRET (a secret: masked in the start-up log)
	Scopes       []string          // asked for in the token; none means all of the client's
	Timeout      time.Duration     // CSI_PEER_TIMEOUT: bound of one call to a peer, at most a minute
}

// DefaultIdentityURL is identity's base URL on a development machine.
const DefaultIdentityURL = "http://127.0.0.1:8081"

// LoadSettings reads the settings of service calling peers, given by name with their default
// base URL ("registry" → "http://127.0.0.1:8082"); consulAddr is app.Base.ConsulAddr. The
// client id and secret are required: a service that calls its peers cannot start without them.
//
//	CSI_<PEER>_URL              base URL of each peer when CSI_CONSUL_ADDR is empty
//	CSI_IDENTITY_URL            identity's base URL (default http://127.0.0.1:8081)
//	CSI_<SERVICE>_CLIENT_ID     the service's machine client (required)
//	CSI_<SERVICE>_CLIENT_SECRET its secret (required)
//	CSI_PEER_TIMEOUT            bound of one call to a peer (default 2s, at most 1m)
func LoadSettings(env *app.Env, service, consulAddr string, peers map[string]string) Settings {
	prefix := "CSI_" + envName(service) + "_"
	s := Settings{Service: service, ConsulAddr: consulAddr, URLs: make(map[string]string, len(peers)),
		IdentityURL:  strings.TrimRight(env.String("CSI_IDENTITY_URL", DefaultIdentityURL), "/"),
		ClientID:     env.Required(prefix+"CLIENT_ID", false),
		ClientSecret: env.Required(prefix+"CLIENT_SECRET", true),
		Timeout:      env.DurationMax("CSI_PEER_TIMEOUT", DefaultTimeout, time.Minute),
	}
	for _, name := range slices.Sorted(maps.Keys(peers)) {
		s.URLs[name] = env.String("CSI_"+envName(name)+"_URL", peers[name])
	}
	return s
}

func envName(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "-", "_")) }

// Set is what a service holds to call its peers: where they are, the service's token, and
// a Client per peer. Close it at shutdown, after the server has drained.
type Set struct {
	Peers    discovery.Peers
	Tokens   *auth.ClientCredentials
	settings Settings
	log      *slog.Logger
}

// Open builds the peers of s: with ConsulAddr, instances of "csi-<peer>" whose checks pass in
// Consul (registered there by each service's pkg/app); otherwise the URLs. Nothing is
// contacted here: an unreachable peer or identity shows in the calls, as errs.Unavailable.
func Open(s Settings, log *slog.Logger) (*Set, error) {
	if log == nil {
		log = slog.Default()
	}
	var p discovery.Peers
	if s.ConsulAddr != "" {
		client, err := discovery.NewClient(s.ConsulAddr)
		if err != nil {
			return nil, err
		}
		p = discovery.NewConsul(client, log, true)
	} else {
		urls := make(map[string][]string, len(s.URLs))
		for name, u := range s.URLs {
			urls["csi-"+name] = []string{u}
		}
		p = discovery.NewStatic(urls)
	}
	tokens := &auth.ClientCredentials{TokenURL: s.IdentityURL + auth.TokenPath, ClientID: s.ClientID,
		ClientSecret: s.ClientSecret, Scopes: s.Scopes}
	return &Set{Peers: p, Tokens: tokens, settings: s, log: log}, nil
}

// Client returns a client of the peer called name (one of those given to LoadSettings when
// peers come from URLs).
func (s *Set) Client(name string) (*Client, error) {
	if s.settings.ConsulAddr == "" {
		if _, ok := s.settings.URLs[name]; !ok {
			return nil, errs.E(errs.Internal, "peer %q has no configured URL", name)
		}
	}
	return New(Config{Name: name, Peers: s.Peers, Tokens: s.Tokens, Timeout: s.settings.Timeout,
		Log: s.log.With("peer", name)})
}

// Close stops watching Consul.
func (s *Set) Close() { s.Peers.Close() }
