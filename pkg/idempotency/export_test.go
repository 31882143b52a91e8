package idempotency

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// SetHooks sets the test hooks: afterChange runs in the request's transaction after the handler
// returned, before the answer is written; beforeCommit after it is written, before the commit.
func SetHooks(s *Store, afterChange, beforeCommit func(context.Context, pgx.Tx)) {
	s.afterChange, s.beforeCommit = afterChange, beforeCommit
}
