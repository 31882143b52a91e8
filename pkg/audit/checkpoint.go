package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/docstore"
)

// Checkpoint is a chain's head as recorded outside the database: the record at Seq has Hash.
// The stored form (one JSON object per chain, see Checkpoints) adds key_id and signature.
type Checkpoint struct {
	ChainID uuid.UUID `json:"chain_id"`
	Seq     int64     `json:"seq"`
	Hash    string    `json:"hash"` // hex SHA-256 of the record at Seq
	Time    time.Time `json:"time"` // when the checkpoint was taken, UTC, microseconds
}

// signedCheckpoint is the stored form of a Checkpoint.
type signedCheckpoint struct {
	Checkpoint
	KeyID     string `json:"key_id"`    // KeyID of the signing key
	Signature string `json:"signature"` // base64 Ed25519 signature of checkpointMessage
}

// checkpointPrefix tags the signed message and its version.
var checkpointPrefix = []byte("csiaudit-checkpoint\x01")

// checkpointMessage is the signed message: the 20 bytes "csiaudit-checkpoint" and version 1,
// chain_id (16 bytes), seq (8 bytes big endian), hash (32 bytes), time as microseconds since the
// Unix epoch (8 bytes big endian).
func checkpointMessage(c Checkpoint, hash []byte) []byte {
	b := make([]byte, 0, len(checkpointPrefix)+16+8+hashSize+8)
	b = append(b, checkpointPrefix...)
	b = append(b, c.ChainID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Seq))
	b = append(b, hash...)
	return binary.BigEndian.AppendUint64(b, uint64(c.Time.UnixMicro()))
}

// KeyID names an Ed25519 public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:8])
}

// CheckpointSeedSize is the size of the seed a checkpoint signing key is made from.
const CheckpointSeedSize = ed25519.SeedSize

// Checkpoints keeps the signed checkpoints of a service's chains in a docstore.Store, one
// object per chain under a prefix ("<prefix><chain id>.json", application/json), replaced as the
// chain grows. Each is signed with an Ed25519 key, so that whoever holds only the public key (an
// external auditor) can check it, and nobody who can write to the database but does not hold the
// key can forge one.
type Checkpoints struct {
	store  docstore.Store
	prefix string
	key    ed25519.PrivateKey  // nil: verification only
	keys   []ed25519.PublicKey // accepted signers: the key's own, then earlier ones
}

// NewCheckpoints signs with the Ed25519 key made from seed (CheckpointSeedSize bytes) and
// accepts, besides its own, signatures of the earlier public keys (after a key rotation). prefix
// is a key prefix of the store (a service's own, such as "audit/identity/"); "/" is added when
// missing.
func NewCheckpoints(store docstore.Store, prefix string, seed []byte, earlier ...ed25519.PublicKey) (*Checkpoints, error) {
	if len(seed) != CheckpointSeedSize {
		return nil, fmt.Errorf("audit checkpoints: the key seed must be %d bytes", CheckpointSeedSize)
	}
	key := ed25519.NewKeyFromSeed(seed)
	return newCheckpoints(store, prefix, key, append([]ed25519.PublicKey{key.Public().(ed25519.PublicKey)}, earlier...))
}

// NewCheckpointReader reads and checks checkpoints signed by any of keys, without signing any.
func NewCheckpointReader(store docstore.Store, prefix string, keys ...ed25519.PublicKey) (*Checkpoints, error) {
	if len(keys) == 0 {
		return nil, errors.New("audit checkpoints: no public key")
	}
	return newCheckpoints(store, prefix, nil, keys)
}

func newCheckpoints(store docstore.Store, prefix string, key ed25519.PrivateKey, keys []ed25519.PublicKey) (*Checkpoints, error) {
	if store == nil {
		return nil, errors.New("audit checkpoints: no store")
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	for _, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			return nil, errors.New("audit checkpoints: a public key is not an Ed25519 key")
		}
	}
	return &Checkpoints{store: store, prefix: prefix, key: key, keys: keys}, nil
}

// PublicKey is the public key checkpoints are signed with (base64 in the verification answer).
func (c *Checkpoints) PublicKey() ed25519.PublicKey { return c.keys[0] }

// Prefix is the store's key prefix of these checkpoints.
func (c *Checkpoints) Prefix() string { return c.prefix }

func (c *Checkpoints) objectKey(chainID uuid.UUID) string {
	return c.prefix + chainID.String() + ".json"
}

// Put signs and stores cp, replacing the chain's previous checkpoint.
func (c *Checkpoints) Put(ctx context.Context, cp Checkpoint) error {
	if c.key == nil {
		return errors.New("audit checkpoints: no signing key")
	}
	hash, err := hex.DecodeString(cp.Hash)
	if err != nil || len(hash) != hashSize {
		return fmt.Errorf("audit checkpoint of %s: hash is not %d bytes of hex", cp.ChainID, hashSize)
	}
	cp.Time = cp.Time.UTC().Truncate(time.Microsecond)
	s := signedCheckpoint{Checkpoint: cp, KeyID: KeyID(c.PublicKey()),
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(c.key, checkpointMessage(cp, hash)))}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := c.store.Put(ctx, c.objectKey(cp.ChainID), b, "application/json"); err != nil {
		return fmt.Errorf("audit checkpoint of %s: %w", cp.ChainID, err)
	}
	return nil
}

// Latest reads every chain's checkpoint. A checkpoint that cannot be decoded or whose signature
// does not verify is not returned but reported as a ProblemBadCheckpoint; the error reports a
// failure to read the store.
func (c *Checkpoints) Latest(ctx context.Context) (map[uuid.UUID]Checkpoint, []Problem, error) {
	keys, err := c.store.List(ctx, c.prefix)
	if err != nil {
		return nil, nil, fmt.Errorf("audit checkpoints: %w", err)
	}
	out := map[uuid.UUID]Checkpoint{}
	var problems []Problem
	for _, k := range keys {
		name := strings.TrimPrefix(k, c.prefix)
		idText, ok := strings.CutSuffix(name, ".json")
		chainID, err := uuid.Parse(idText)
		if !ok || err != nil || strings.Contains(name, "/") {
			continue // not a checkpoint (the prefix may hold other things)
		}
		obj, err := c.store.Get(ctx, k)
		if err != nil {
			return nil, nil, fmt.Errorf("audit checkpoints: %w", err)
		}
		cp, err := c.check(chainID, obj.Body)
		if err != nil {
			problems = append(problems, Problem{ChainID: chainID, What: ProblemBadCheckpoint,
				Detail: fmt.Sprintf("checkpoint %s: %v", k, err)})
			continue
		}
		out[chainID] = cp
	}
	return out, problems, nil
}

// check decodes a stored checkpoint of chainID and verifies its signature.
func (c *Checkpoints) check(chainID uuid.UUID, body []byte) (Checkpoint, error) {
	var s signedCheckpoint
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(&s); err != nil {
		return Checkpoint{}, errors.New("not a checkpoint")
	}
	hash, err := hex.DecodeString(s.Hash)
	if err != nil || len(hash) != hashSize || s.ChainID != chainID || s.Seq < 1 {
		return Checkpoint{}, errors.New("malformed checkpoint")
	}
	sig, err := base64.StdEncoding.DecodeString(s.Signature)
	if err != nil {
		return Checkpoint{}, errors.New("signature is not base64")
	}
	msg := checkpointMessage(s.Checkpoint, hash)
	for _, k := range c.keys {
		if ed25519.Verify(k, msg, sig) {
			return s.Checkpoint, nil
		}
	}
	return Checkpoint{}, fmt.Errorf("signature does not verify with the configured key (signed by key %q)", s.KeyID)
}

// DefaultCheckpointInterval is how often a Log writes its checkpoint when its head moved.
const DefaultCheckpointInterval = 5 * time.Second

// checkpointer writes one Log's checkpoints from a goroutine of its own, so that a slow store
// never holds up the commits.
type checkpointer struct {
	cps     *Checkpoints
	chainID uuid.UUID
	log     *slog.Logger
	m       metrics

	mu      sync.Mutex
	head    head  // the committed head
	written int64 // the seq of the last checkpoint written

	ctx    context.Context // cancelled by close: aborts a write in progress
	cancel context.CancelFunc
	done   chan struct{}
}

func newCheckpointer(cps *Checkpoints, chainID uuid.UUID, every time.Duration, log *slog.Logger, m metrics) *checkpointer {
	c := &checkpointer{cps: cps, chainID: chainID, log: log, m: m, done: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.run(every)
	return c
}

// moved records the committed head; called by the committer.
func (c *checkpointer) moved(h head) {
	c.mu.Lock()
	c.head = head{seq: h.seq, hash: bytes.Clone(h.hash)}
	c.mu.Unlock()
}

func (c *checkpointer) run(every time.Duration) {
	defer close(c.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(c.ctx, every+docstore.DefaultTimeout)
			if err := c.write(ctx); err != nil && c.ctx.Err() == nil {
				c.log.Warn("audit checkpoint not written; retrying at the next interval", "err", err)
			}
			cancel()
		}
	}
}

// write stores the checkpoint of the committed head if it moved since the last one.
func (c *checkpointer) write(ctx context.Context) error {
	c.mu.Lock()
	h, written := c.head, c.written
	c.mu.Unlock()
	if h.seq == 0 || h.seq == written {
		return nil
	}
	err := c.cps.Put(ctx, Checkpoint{ChainID: c.chainID, Seq: h.seq, Hash: hex.EncodeToString(h.hash), Time: time.Now()})
	if err != nil {
		c.m.checkpointErrors.Inc()
		return err
	}
	c.m.checkpoints.Inc()
	c.mu.Lock()
	c.written = max(c.written, h.seq)
	c.mu.Unlock()
	return nil
}

// close stops the goroutine and writes the last checkpoint (once: the head no longer moves).
func (c *checkpointer) close(ctx context.Context) error {
	c.cancel()
	<-c.done
	return c.write(ctx)
}
