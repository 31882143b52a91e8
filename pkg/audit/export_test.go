package audit

import (
	"context"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/csi-lombardia/csi/pkg/pgdb"
)

// PendingRecords is the value of the Log's pending-records gauge, for the tests to see when
// writes are queued.
func PendingRecords(l *Log) float64 { return testutil.ToFloat64(l.m.pending) }

// Rechain recomputes every hash of a chain from its stored fields and moves its head to the
// last record, as someone able to write the tables (triggers disabled) but without the
// checkpoint key would do to hide a change: Verify alone then finds nothing.
func Rechain(ctx context.Context, db pgdb.DB, chainID uuid.UUID) error {
	page, err := readPage(ctx, db, nil, chainID, 0)
	if err != nil {
		return err
	}
	var rows []row
	for _, v := range page {
		if v.chainID == chainID {
			rows = append(rows, v.row)
		}
	}
	to := chain(chainID, head{hash: make([]byte, hashSize)}, rows)
	for _, r := range rows {
		if _, err := db.Exec(ctx, `UPDATE audit_records SET prev_hash = $3, hash = $4 WHERE chain_id = $1 AND seq = $2`,
			chainID, r.seq, r.prevHash, r.hash); err != nil {
			return err
		}
	}
	_, err = db.Exec(ctx, `UPDATE audit_chains SET head_seq = $2, head_hash = $3 WHERE chain_id = $1`, chainID, to.seq, to.hash)
	return err
}

// WithSendMode makes a Log send its batches another way: "statement" (one statement) or "copy";
// "pipeline" is send's own way.
func WithSendMode(mode string) Option {
	senders := map[string]func(*Log, context.Context, []row, head) error{
		"pipeline": nil, "statement": (*Log).sendStatement, "copy": (*Log).sendCopy}
	s, ok := senders[mode]
	if !ok {
		panic("unknown send mode " + mode)
	}
	return func(c *config) { c.sender = s }
}
