package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/logging"
)

// records decodes JSON lines, dropping the time.
func records(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		delete(m, "time")
		out = append(out, m)
	}
	return out
}

func TestNewJSONRequestID(t *testing.T) {
	tests := []struct {
		name string
		ctx  context.Context
		log  func(ctx context.Context, b *bytes.Buffer)
		want []map[string]any
	}{
		{
			name: "request id from the context",
			ctx:  httpapi.WithRequestID(context.Background(), "req-1"),
			log: func(ctx context.Context, b *bytes.Buffer) {
				logging.New(b, "json", "info", "things", "1.2.3").InfoContext(ctx, "hello", "n", 1)
			},
			want: []map[string]any{{"level": "INFO", "msg": "hello", "service": "things", "version": "1.2.3", "n": 1.0, "request_id": "req-1"}},
		},
		{
			name: "no request id in the context",
			ctx:  context.Background(),
			log: func(ctx context.Context, b *bytes.Buffer) {
				logging.New(b, "json", "info", "things", "1.2.3").InfoContext(ctx, "hello")
			},
			want: []map[string]any{{"level": "INFO", "msg": "hello", "service": "things", "version": "1.2.3"}},
		},
		{
			name: "an explicit request id is not repeated",
			ctx:  httpapi.WithRequestID(context.Background(), "req-1"),
			log: func(ctx context.Context, b *bytes.Buffer) {
				logging.New(b, "json", "info", "things", "1.2.3").ErrorContext(ctx, "failed", "request_id", "req-1")
			},
			want: []map[string]any{{"level": "ERROR", "msg": "failed", "service": "things", "version": "1.2.3", "request_id": "req-1"}},
		},
		{
			name: "derived loggers keep adding it",
			ctx:  httpapi.WithRequestID(context.Background(), "req-2"),
			log: func(ctx context.Context, b *bytes.Buffer) {
				logging.New(b, "json", "info", "things", "1.2.3").With("component", "store").WarnContext(ctx, "slow")
			},
			want: []map[string]any{{"level": "WARN", "msg": "slow", "service": "things", "version": "1.2.3", "component": "store", "request_id": "req-2"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			tc.log(tc.ctx, &b)
			got := records(t, &b)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			// One request_id key per line, even when given twice.
			if n := strings.Count(b.String(), `"request_id"`); n > 1 {
				t.Errorf("line %s has request_id %d times", b.String(), n)
			}
		})
	}
}

func TestNewText(t *testing.T) {
	var b bytes.Buffer
	ctx := httpapi.WithRequestID(context.Background(), "req-3")
	logging.New(&b, "text", "info", "things", "1.2.3").InfoContext(ctx, "hello")
	for _, want := range []string{"level=INFO", "msg=hello", "service=things", "version=1.2.3", "request_id=req-3"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text line %q lacks %q", b.String(), want)
		}
	}
	if strings.HasPrefix(strings.TrimSpace(b.String()), "{") {
		t.Errorf("text format wrote JSON: %s", b.String())
	}
}

func TestNewLevel(t *testing.T) {
	tests := []struct {
		level string
		want  []string
	}{
		{level: "debug", want: []string{"DEBUG", "INFO", "WARN", "ERROR"}},
		{level: "info", want: []string{"INFO", "WARN", "ERROR"}},
		{level: "warn", want: []string{"WARN", "ERROR"}},
		{level: "error", want: []string{"ERROR"}},
		{level: "DEBUG", want: []string{"DEBUG", "INFO", "WARN", "ERROR"}},
		{level: "Warn", want: []string{"WARN", "ERROR"}},
		{level: "", want: []string{"INFO", "WARN", "ERROR"}},
		{level: "chatty", want: []string{"INFO", "WARN", "ERROR"}},
	}
	for _, tc := range tests {
		t.Run(tc.level, func(t *testing.T) {
			var b bytes.Buffer
			l := logging.New(&b, "json", tc.level, "things", "1")
			ctx := context.Background()
			l.DebugContext(ctx, "d")
			l.InfoContext(ctx, "i")
			l.WarnContext(ctx, "w")
			l.ErrorContext(ctx, "e")
			var got []string
			for _, r := range records(t, &b) {
				got = append(got, r["level"].(string))
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("levels written at %q (-want +got):\n%s", tc.level, diff)
			}
		})
	}
}
