package audit

import "github.com/prometheus/client_golang/prometheus/testutil"

// PendingRecords is the value of the Log's pending-records gauge, for the tests to see when
// writes are queued.
func PendingRecords(l *Log) float64 { return testutil.ToFloat64(l.m.pending) }
