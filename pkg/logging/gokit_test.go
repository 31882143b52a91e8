package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/google/go-cmp/cmp"
)

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

func TestGoKit(t *testing.T) {
	tests := []struct {
		name     string
		minLevel slog.Level
		log      func(l log.Logger) error
		want     []map[string]any // records, without their time
	}{
		{
			name: "pairs become attributes and msg the message",
			log:  func(l log.Logger) error { return l.Log("msg", "hello", "count", 3, "ok", true) },
			want: []map[string]any{{"level": "INFO", "msg": "hello", "count": 3.0, "ok": true}},
		},
		{
			name: "message key",
			log:  func(l log.Logger) error { return l.Log("message", "hi", "a", "b") },
			want: []map[string]any{{"level": "INFO", "msg": "hi", "a": "b"}},
		},
		{
			name: "no message",
			log:  func(l log.Logger) error { return l.Log("instances", 2) },
			want: []map[string]any{{"level": "INFO", "msg": "", "instances": 2.0}},
		},
		{
			name:     "go-kit level helpers",
			minLevel: slog.LevelDebug,
			log: func(l log.Logger) error {
				return errors.Join(
					level.Debug(l).Log("msg", "d"),
					level.Info(l).Log("msg", "i"),
					level.Warn(l).Log("msg", "w"),
					level.Error(l).Log("msg", "e"),
				)
			},
			want: []map[string]any{
				{"level": "DEBUG", "msg": "d"},
				{"level": "INFO", "msg": "i"},
				{"level": "WARN", "msg": "w"},
				{"level": "ERROR", "msg": "e"},
			},
		},
		{
			name: "level as text",
			log:  func(l log.Logger) error { return l.Log("level", "warning", "msg", "w") },
			want: []map[string]any{{"level": "WARN", "msg": "w"}},
		},
		{
			name: "unknown level kept as attribute",
			log:  func(l log.Logger) error { return l.Log("level", "critical", "msg", "c") },
			want: []map[string]any{{"level": "INFO", "msg": "c", "gokit_level": "critical"}},
		},
		{
			name:     "below the handler level is dropped",
			minLevel: slog.LevelInfo,
			log:      func(l log.Logger) error { return level.Debug(l).Log("msg", "quiet") },
			want:     nil,
		},
		{
			name: "odd keyvals get a missing value",
			log:  func(l log.Logger) error { return l.Log("msg", "odd", "dangling") },
			want: []map[string]any{{"level": "INFO", "msg": "odd", "dangling": "(MISSING)"}},
		},
		{
			name: "err without level is an error",
			log:  func(l log.Logger) error { return l.Log("err", errors.New("boom")) },
			want: []map[string]any{{"level": "ERROR", "msg": "", "err": "boom"}},
		},
		{
			name: "nil err keeps info",
			log:  func(l log.Logger) error { return l.Log("msg", "fine", "err", nil) },
			want: []map[string]any{{"level": "INFO", "msg": "fine", "err": nil}},
		},
		{
			name: "explicit level wins over err",
			log:  func(l log.Logger) error { return level.Warn(l).Log("err", "retrying") },
			want: []map[string]any{{"level": "WARN", "msg": "", "err": "retrying"}},
		},
		{
			name: "non-string keys and stringer values",
			log:  func(l log.Logger) error { return l.Log(42, "answer", "who", stringer{"me"}) },
			want: []map[string]any{{"level": "INFO", "msg": "", "42": "answer", "who": "me"}},
		},
		{
			name: "typed nil values",
			log: func(l log.Logger) error {
				var p *stringer
				return l.Log("msg", "nils", "p", p)
			},
			want: []map[string]any{{"level": "INFO", "msg": "nils", "p": nil}},
		},
		{
			name: "contextual keyvals from log.With",
			log: func(l log.Logger) error {
				return log.With(l, "service", "identity").Log("msg", "ctx")
			},
			want: []map[string]any{{"level": "INFO", "msg": "ctx", "service": "identity"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := GoKit(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: tt.minLevel})))
			if err := tt.log(l); err != nil {
				t.Fatalf("Log() = %v, want nil", err)
			}
			var got []map[string]any
			dec := json.NewDecoder(&buf)
			for dec.More() {
				var rec map[string]any
				if err := dec.Decode(&rec); err != nil {
					t.Fatalf("decode %q: %v", buf.String(), err)
				}
				if _, ok := rec["time"]; !ok {
					t.Errorf("record %v has no time", rec)
				}
				delete(rec, "time")
				got = append(got, rec)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("records (-got +want):\n%s", diff)
			}
		})
	}
}
