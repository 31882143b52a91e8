package docstore_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/csi-lombardia/csi/pkg/docstore/docstoretest"
)

// fatalTB records the message of Fatal and ends the goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

// TestMissingS3Fails: without CSI_TEST_S3_ENDPOINT the S3 tests fail, naming the variable; they
// never skip, so that CI cannot pass without the S3 server.
func TestMissingS3Fails(t *testing.T) {
	t.Setenv("CSI_TEST_S3_ENDPOINT", "")
	tb := &fatalTB{TB: t}
	done := make(chan string, 1)
	go func() {
		defer func() { done <- tb.msg }()
		got := docstoretest.Config(tb)
		tb.msg = "returned " + got.Bucket
	}()
	if msg := <-done; !strings.Contains(msg, "CSI_TEST_S3_ENDPOINT is not set") {
		t.Errorf("Config without the variable: %q, want a Fatal naming CSI_TEST_S3_ENDPOINT", msg)
	}
}
