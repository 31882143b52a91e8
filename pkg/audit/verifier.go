package audit

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
)

// VerifyRoute is the route of the verification a privacy officer runs; every service that keeps
// an audit trail serves it (pkg/app wires it).
const VerifyRoute = "GET /v1/audit:verify"

// Verifier verifies a service's audit trail on demand (Endpoint, for the privacy officer) and
// periodically (Run), and exports the last result as metrics:
//
//	csi_audit_verification_ok                          1 when the last verification found no problem, else 0
//	csi_audit_verification_problems                    problems the last verification found
//	csi_audit_verification_records                     records the last verification checked
//	csi_audit_verification_last_run_timestamp_seconds  when the last verification ended
//	csi_audit_verification_duration_seconds            how long the last verification took
//	csi_audit_verification_errors_total                verifications that could not complete
//	csi_audit_verification_interval_seconds            the period of Run (absent when it does not run)
//
// The result gauges appear with the first completed verification, so that a process that has
// not verified yet is not taken for a failing one.
type Verifier struct {
	pool        *pgxpool.Pool
	log         *Log
	checkpoints *Checkpoints
	logger      *slog.Logger
	sem         chan struct{} // one verification at a time
	m           verifierMetrics
}

type verifierMetrics struct {
	reg      prometheus.Registerer
	once     sync.Once
	ok       prometheus.Gauge
	problems prometheus.Gauge
	records  prometheus.Gauge
	lastRun  prometheus.Gauge
	duration prometheus.Gauge
	errors   prometheus.Counter
	interval prometheus.Gauge
}

// NewVerifier verifies the trail in pool, against the checkpoints when cps is not nil; log, when
// not nil, records each verification a person asks for. Metrics go to reg (nil: none).
func NewVerifier(pool *pgxpool.Pool, log *Log, cps *Checkpoints, reg prometheus.Registerer, logger *slog.Logger) *Verifier {
	if logger == nil {
		logger = slog.Default()
	}
	v := &Verifier{pool: pool, log: log, checkpoints: cps, logger: logger, sem: make(chan struct{}, 1)}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	v.m = verifierMetrics{
		reg:      reg,
		ok:       gauge("csi_audit_verification_ok", "1 when the last verification of the audit trail found no problem, 0 when it found one."),
		problems: gauge("csi_audit_verification_problems", "Problems the last verification of the audit trail found (at most 1000 are counted)."),
		records:  gauge("csi_audit_verification_records", "Audit records the last verification checked."),
		lastRun:  gauge("csi_audit_verification_last_run_timestamp_seconds", "When the last verification of the audit trail ended (Unix time)."),
		duration: gauge("csi_audit_verification_duration_seconds", "How long the last verification of the audit trail took."),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "csi_audit_verification_errors_total",
			Help: "Verifications of the audit trail that could not complete (database or checkpoint store unreachable)."}),
		interval: gauge("csi_audit_verification_interval_seconds", "The period of the audit trail's periodic verification."),
	}
	if reg != nil {
		v.m.errors = register(reg, v.m.errors)
	}
	return v
}

// Checkpoints are the checkpoints Verify compares with (nil when there are none).
func (v *Verifier) Checkpoints() *Checkpoints { return v.checkpoints }

// Verify runs Verify against the checkpoints, if any, and records the result in the metrics.
// Verifications run one at a time.
func (v *Verifier) Verify(ctx context.Context) (Report, time.Duration, error) {
	select {
	case v.sem <- struct{}{}:
		defer func() { <-v.sem }()
	case <-ctx.Done():
		return Report{}, 0, fmt.Errorf("verify audit chains: waiting for the verification in progress: %w", ctx.Err())
	}
	start := time.Now()
	var opts []VerifyOption
	if v.checkpoints != nil {
		opts = append(opts, AgainstCheckpoints(v.checkpoints))
	}
	// On the pool, not in one long REPEATABLE READ transaction: Verify needs no snapshot (it
	// leaves out what was committed after it read the heads), and a long transaction would hold
	// back pg_snapshot_xmin, and so the event feeds of every service on the server, for as long
	// as the verification runs.
	rep, err := Verify(ctx, v.pool, opts...)
	took := time.Since(start)
	if err != nil {
		v.m.errors.Inc()
		return Report{}, took, err
	}
	v.m.once.Do(func() {
		if v.m.reg != nil {
			v.m.ok = register(v.m.reg, v.m.ok)
			v.m.problems = register(v.m.reg, v.m.problems)
			v.m.records = register(v.m.reg, v.m.records)
			v.m.lastRun = register(v.m.reg, v.m.lastRun)
			v.m.duration = register(v.m.reg, v.m.duration)
		}
	})
	if rep.OK() {
		v.m.ok.Set(1)
	} else {
		v.m.ok.Set(0)
	}
	v.m.problems.Set(float64(len(rep.Problems)))
	v.m.records.Set(float64(rep.Records))
	v.m.duration.Set(took.Seconds())
	v.m.lastRun.Set(float64(time.Now().UnixNano()) / 1e9)
	return rep, took, nil
}

// Run verifies at once, then every interval until ctx ends; a problem found is logged as an
// error, with the first problem named.
func (v *Verifier) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	if v.m.reg != nil {
		v.m.interval = register(v.m.reg, v.m.interval)
	}
	v.m.interval.Set(interval.Seconds())
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		rep, took, err := v.Verify(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			v.logger.Error("audit verification could not run", "err", err)
		case !rep.OK():
			p := rep.Problems[0]
			v.logger.Error("audit verification found problems", "problems", len(rep.Problems), "chains", rep.Chains,
				"records", rep.Records, "first_chain_id", p.ChainID.String(), "first_seq", p.Seq, "first_record_id", p.RecordID,
				"first_problem", p.What, "took", took.String())
		default:
			v.logger.Info("audit verification passed", "chains", rep.Chains, "records", rep.Records,
				"checkpoints", rep.Checkpoints, "took", took.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// VerifyRequest is the decoded GET /v1/audit:verify request; it has no parameters.
type VerifyRequest struct{}

// DecodeVerifyRequest is the go-kit decoder of GET /v1/audit:verify.
func DecodeVerifyRequest(_ context.Context, r *http.Request) (any, error) {
	var f errs.Fields
	for name := range r.URL.Query() {
		f.Add(name, "is not a parameter of this operation")
	}
	return VerifyRequest{}, f.Err()
}

// Where a problem lies, as the privacy officer sees it (ProblemView.Scope).
const (
	ScopeAmbito      = "ambito"       // in a record of the caller's ambito: shown in full
	ScopeOtherAmbito = "other_ambito" // in a record of another ambito: where and what only
	ScopeChain       = "chain"        // not in a record that is there (missing records, tail, head, checkpoint)
)

// VerifyResponse is the answer of GET /v1/audit:verify.
type VerifyResponse struct {
	OK              bool            `json:"ok"`
	VerifiedAt      time.Time       `json:"verified_at"`
	DurationSeconds float64         `json:"duration_seconds"`
	Chains          int             `json:"chains"`
	Records         int64           `json:"records"`
	Checkpoints     CheckpointState `json:"checkpoints"`
	Problems        []ProblemView   `json:"problems"` // in chain order: the first is the first broken place
	Truncated       bool            `json:"truncated"`
}

// CheckpointState says whether the chains were compared with signed checkpoints.
type CheckpointState struct {
	Enabled   bool   `json:"enabled"`
	Chains    int    `json:"chains"`               // chains compared with a valid checkpoint
	PublicKey string `json:"public_key,omitempty"` // base64 Ed25519 public key that signs them
	KeyID     string `json:"key_id,omitempty"`
}

// ProblemView is a Problem as shown to a privacy officer of one ambito.
type ProblemView struct {
	ChainID  string `json:"chain_id"`
	Seq      int64  `json:"seq"`
	RecordID string `json:"record_id,omitempty"`
	What     string `json:"what"`
	Detail   string `json:"detail,omitempty"`
	Scope    string `json:"scope"`
}

// View is the report as a privacy officer of ambitoID may see it. The chains are per process
// and hold every ambito's records, so the counts and the places of all problems are shown (a
// broken chain concerns every ambito whose records it holds); a problem in another ambito's
// record is shown without its record id or detail, and no record's content is ever shown.
func (r Report) View(ambitoID string) []ProblemView {
	out := make([]ProblemView, 0, len(r.Problems))
	for _, p := range r.Problems {
		pv := ProblemView{ChainID: p.ChainID.String(), Seq: p.Seq, What: p.What}
		switch {
		case p.AmbitoID == "":
			pv.Scope, pv.RecordID, pv.Detail = ScopeChain, p.RecordID, p.Detail
		case p.AmbitoID == ambitoID:
			pv.Scope, pv.RecordID, pv.Detail = ScopeAmbito, p.RecordID, p.Detail
		default:
			pv.Scope = ScopeOtherAmbito
		}
		out = append(out, pv)
	}
	return out
}

// Endpoint serves GET /v1/audit:verify to the privacy officer of an ambito: it verifies the whole
// trail of the service now and answers with the Report as View shows it. The verification is
// itself audited.
func (v *Verifier) Endpoint() endpoint.Endpoint {
	e := func(ctx context.Context, _ any) (any, error) {
		c, err := auth.Caller(ctx)
		if err != nil {
			return nil, err
		}
		if c.AmbitoID == "" {
			return nil, errs.E(errs.Forbidden, "this token is not bound to an ambito")
		}
		rep, took, err := v.Verify(ctx)
		if err != nil {
			return nil, errs.Wrap(errs.Unavailable, err, "the audit trail could not be verified now; try again later")
		}
		resp := VerifyResponse{OK: rep.OK(), VerifiedAt: time.Now().UTC().Truncate(time.Millisecond),
			DurationSeconds: took.Seconds(), Chains: rep.Chains, Records: rep.Records, Problems: rep.View(c.AmbitoID),
			Truncated: rep.Truncated}
		if v.checkpoints != nil {
			resp.Checkpoints = CheckpointState{Enabled: true, Chains: rep.Checkpoints,
				PublicKey: base64.StdEncoding.EncodeToString(v.checkpoints.PublicKey()), KeyID: KeyID(v.checkpoints.PublicKey())}
		}
		if v.log != nil {
			err := v.log.Write(ctx, Record{ActorID: c.Subject, ActorOrg: c.OrgID, ActorRole: string(c.Role), AmbitoID: c.AmbitoID,
				Action: "audit.verify", ResourceType: "audit", Outcome: OutcomeSuccess,
				Details: map[string]any{"ok": rep.OK(), "problems": len(rep.Problems), "records": rep.Records}})
			if err != nil {
				return nil, err
			}
		}
		return resp, nil
	}
	return auth.Require(auth.AnyRole(auth.RolePrivacyOfficer))(e)
}
