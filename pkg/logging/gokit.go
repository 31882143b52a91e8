package logging

import (
	"context"
	"encoding"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/go-kit/log"
)

// GoKit adapts l to the go-kit logger interface (github.com/go-kit/log.Logger), for the go-kit
// pieces that demand one (the Consul instancer, sd endpointers, transports' error handlers).
//
// Each call to Log writes one slog record: the keyvals pairs become attributes, in order; the
// first "msg" or "message" key becomes the record's message; a "level" key carrying a go-kit
// level (github.com/go-kit/log/level) or the strings debug, info, warn, warning, error sets the
// record's level, and an unknown level is kept as the attribute "gokit_level". Without a level,
// a record carrying a non-nil "err" or "error" value is logged at error level (go-kit's own
// convention for failures) and any other record at info level. A key without a value gets
// go-kit's log.ErrMissingValue, as go-kit's loggers do. A nil l means slog.Default().
func GoKit(l *slog.Logger) log.Logger {
	if l == nil {
		l = slog.Default()
	}
	return goKit{h: l.Handler()}
}

type goKit struct {
	h slog.Handler
}

// levelKey is the key of go-kit's level package (level.Key()), compared as text.
const levelKey = "level"

func (g goKit) Log(keyvals ...any) error {
	if len(keyvals)%2 != 0 {
		keyvals = append(keyvals, log.ErrMissingValue)
	}
	var (
		msg      string
		hasMsg   bool
		lvl      = slog.LevelInfo
		hasLevel bool
		failed   bool
		attrs    = make([]slog.Attr, 0, len(keyvals)/2)
	)
	for i := 0; i < len(keyvals); i += 2 {
		key, val := keyString(keyvals[i]), keyvals[i+1]
		switch {
		case (key == "msg" || key == "message") && !hasMsg:
			msg, hasMsg = valueString(val), true
			continue
		case key == levelKey && !hasLevel:
			hasLevel = true
			if l, ok := parseLevel(val); ok {
				lvl = l
				continue
			}
			key = "gokit_level"
		case (key == "err" || key == "error") && !isNil(val):
			failed = true
		}
		attrs = append(attrs, slog.Attr{Key: key, Value: attrValue(val)})
	}
	if !hasLevel && failed {
		lvl = slog.LevelError
	}
	ctx := context.Background()
	if !g.h.Enabled(ctx, lvl) {
		return nil
	}
	r := slog.NewRecord(time.Now(), lvl, msg, 0)
	r.AddAttrs(attrs...)
	if err := g.h.Handle(ctx, r); err != nil {
		return fmt.Errorf("write go-kit log record: %w", err)
	}
	return nil
}

// keyString renders a go-kit key as text, as go-kit's JSON logger does.
func keyString(k any) string {
	switch k := k.(type) {
	case string:
		return k
	case nil:
		return "NULL"
	case fmt.Stringer:
		if isNil(k) {
			return "NULL"
		}
		return k.String()
	default:
		return fmt.Sprint(k)
	}
}

// valueString renders a message value as text.
func valueString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		if isNil(v) {
			return ""
		}
		return fmt.Sprint(v)
	}
}

// parseLevel maps a go-kit level value (or its text) to a slog level.
func parseLevel(v any) (slog.Level, bool) {
	if isNil(v) {
		return 0, false
	}
	switch strings.ToLower(fmt.Sprint(v)) {
	case "debug":
		return slog.LevelDebug, true
	case "info":
		return slog.LevelInfo, true
	case "warn", "warning":
		return slog.LevelWarn, true
	case "error", "err":
		return slog.LevelError, true
	}
	return 0, false
}

// attrValue turns a go-kit value into a slog value. Values slog knows (strings, numbers, times,
// durations, errors, marshalers) pass through; other fmt.Stringers, such as go-kit's level
// values, are rendered with String so they do not appear as empty JSON objects; typed nils
// become null.
func attrValue(v any) slog.Value {
	sv := slog.AnyValue(v)
	if sv.Kind() != slog.KindAny {
		return sv
	}
	if isNil(v) {
		return slog.AnyValue(nil) // a typed nil error or Stringer would panic in the handler
	}
	switch x := v.(type) {
	case error, json.Marshaler, encoding.TextMarshaler:
		return sv
	case fmt.Stringer:
		return slog.StringValue(x.String())
	}
	return sv
}

// isNil reports whether v is nil or a typed nil pointer, interface, map, slice, chan or func.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Chan, reflect.Func:
		return rv.IsNil()
	}
	return false
}
