package audit_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

// BenchmarkAppend measures audited records per second with a given number of concurrent writers,
// each waiting for its own record's commit as a request handler does, against the real
// PostgreSQL; "pipeline" is the way batches are sent (two statements in one pipeline),
// "statement" one statement doing both (measured no faster, see send).
func BenchmarkAppend(b *testing.B) {
	for _, mode := range []string{"pipeline", "statement"} {
		for _, writers := range []int{1, 16, 64, 256} {
			b.Run(fmt.Sprintf("send=%s/writers=%d", mode, writers), func(b *testing.B) {
				ctx := context.Background()
				pool := pgtest.New(b, audit.Migrations)
				l := newLog(b, pool, audit.WithSendMode(mode))
				var left atomic.Int64
				left.Store(int64(b.N))
				var wg sync.WaitGroup
				start := time.Now()
				for w := range writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; left.Add(-1) >= 0; i++ {
							if err := l.Write(ctx, rec(w*1_000_000+i)); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
				var records, commits float64
				if err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT xmin::text) FROM audit_records`).
					Scan(&records, &commits); err != nil {
					b.Fatal(err)
				}
				if commits > 0 {
					b.ReportMetric(records/commits, "records/commit")
				}
				verifyOK(b, pool)
			})
		}
	}
}
