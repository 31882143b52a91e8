package suite

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The keys of .run/secrets.env.
const (
	// keyMasterKey seals identity's signing keys in its database: it must not change while
	// the database lives (delete .run/secrets.env and the csi_identity database together).
	keyMasterKey = "CSI_IDENTITY_MASTER_KEY"
	// KeyClientID and KeyClientSecret are the demo machine client, whose secret the service
	// shows only when it creates it.
	KeyClientID     = "CSI_DEMO_CLIENT_ID"
	KeyClientSecret = "CSI_DEMO_CLIENT_SECRET"
	// KeyFeedClientID and KeyFeedClientSecret are the demo population-register feed, which
	// loads the demo citizens into the registry.
	KeyFeedClientID     = "CSI_DEMO_FEED_CLIENT_ID"
	KeyFeedClientSecret = "CSI_DEMO_FEED_CLIENT_SECRET"
	// KeyIntakeClientID and KeyIntakeClientSecret are the intake service's own client: the
	// CSI_INTAKE_ prefix hands them to intake's environment (config.env). Every service of
	// demo.ServiceClients has such a pair (clientKeys).
	KeyIntakeClientID     = "CSI_INTAKE_CLIENT_ID"
	KeyIntakeClientSecret = "CSI_INTAKE_CLIENT_SECRET"
	// keyCheckpointKey signs every service's audit chain checkpoints (kept under .run/): a new
	// one makes the checkpoints already written fail verification.
	keyCheckpointKey = "CSI_AUDIT_CHECKPOINT_KEY"
)

const secretsHeader = `# Secrets of this checkout's 'csidev run' (make run), generated on the first run. Keep private.
# CSI_IDENTITY_MASTER_KEY opens the signing keys stored in the csi_identity database: if you
# delete this file, drop that database too (or the identity service will not start).
`

// loadSecrets reads KEY=VALUE lines; a missing file is an empty set.
func loadSecrets(path string) (map[string]string, error) {
	out := map[string]string{}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read secrets: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want KEY=VALUE", path, n)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read secrets: %w", err)
	}
	return out, nil
}

// saveSecrets writes the secrets (mode 0600), replacing the file atomically.
func saveSecrets(path string, secrets map[string]string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("save secrets: %w", err)
	}
	keys := make([]string, 0, len(secrets))
	for k := range secrets {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(secretsHeader)
	for _, k := range keys {
		b.WriteString(k + "=" + secrets[k] + "\n")
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("save secrets: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save secrets: %w", err)
	}
	return nil
}

// ensureSecrets generates the secrets that are missing and saves the file when it did.
func ensureSecrets(path string) (map[string]string, error) {
	secrets, err := loadSecrets(path)
	if err != nil {
		return nil, err
	}
	changed := false
	for _, k := range generatedKeys {
		if secrets[k] != "" {
			continue
		}
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("generate %s: %w", k, err)
		}
		secrets[k], changed = base64.StdEncoding.EncodeToString(key), true
	}
	if !changed {
		return secrets, nil
	}
	return secrets, saveSecrets(path, secrets)
}

// generatedKeys are the 32-byte keys csidev makes on the first run: identity's master key, the
// registry's pseudonym keys, one per purpose (a pseudonym must stay stable while the database
// lives, so these too are kept), and the seed of the audit checkpoint signing key.
var generatedKeys = []string{keyMasterKey, "CSI_REGISTRY_PSEUDONYM_KEY_REPORTING", "CSI_REGISTRY_PSEUDONYM_KEY_SINBA",
	"CSI_REGISTRY_PSEUDONYM_KEY_RESEARCH", keyCheckpointKey}
