package app

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Env reads CSI_... configuration from the environment, collecting every problem so that a
// misconfigured service says all that is wrong at once.
type Env struct {
	problems []string
	seen     []setting
}

type setting struct {
	name, value string
	secret      bool
}

func (e *Env) get(name, def string, secret bool) string {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		v = def
	}
	e.seen = append(e.seen, setting{name, v, secret})
	return v
}

// String reads a string with a default.
func (e *Env) String(name, def string) string { return e.get(name, def, false) }

// Secret reads a secret: never logged.
func (e *Env) Secret(name, def string) string { return e.get(name, def, true) }

// Required reads a string that must be set.
func (e *Env) Required(name string, secret bool) string {
	v := e.get(name, "", secret)
	if v == "" {
		e.problems = append(e.problems, name+" is required")
	}
	return v
}

// Bool reads true/false.
func (e *Env) Bool(name string, def bool) bool {
	v := e.get(name, strconv.FormatBool(def), false)
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.problems = append(e.problems, name+" must be true or false")
	}
	return b
}

// Int reads an integer.
func (e *Env) Int(name string, def int) int {
	v := e.get(name, strconv.Itoa(def), false)
	n, err := strconv.Atoi(v)
	if err != nil {
		e.problems = append(e.problems, name+" must be an integer")
	}
	return n
}

// Duration reads a Go duration ("15m").
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	v := e.get(name, def.String(), false)
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		e.problems = append(e.problems, name+" must be a duration such as 30s or 15m")
	}
	return d
}

// DurationMax reads a Go duration of at most max.
func (e *Env) DurationMax(name string, def, max time.Duration) time.Duration {
	d := e.Duration(name, def)
	if d > max {
		e.problems = append(e.problems, fmt.Sprintf("%s must be at most %s", name, max))
	}
	return d
}

// Base64Key reads a base64-encoded secret of n bytes.
func (e *Env) Base64Key(name string, n int) []byte {
	v := e.get(name, "", true)
	if v == "" {
		e.problems = append(e.problems, fmt.Sprintf("%s is required (%d random bytes, base64)", name, n))
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) != n {
		e.problems = append(e.problems, fmt.Sprintf("%s must be %d bytes, base64-encoded", name, n))
		return nil
	}
	return b
}

// Err reports every problem found.
func (e *Env) Err() error {
	if len(e.problems) == 0 {
		return nil
	}
	return fmt.Errorf("configuration: %s", strings.Join(e.problems, "; "))
}

// Masked returns the settings read, secrets and URL passwords masked, for one log line.
func (e *Env) Masked() map[string]string {
	out := make(map[string]string, len(e.seen))
	for _, s := range e.seen {
		switch {
		case s.secret && s.value != "":
			out[s.name] = "*****"
		default:
			out[s.name] = maskURL(s.value)
		}
	}
	return out
}

func maskURL(v string) string {
	if !strings.Contains(v, "://") {
		return v
	}
	u, err := url.Parse(v)
	if err != nil {
		return "*****"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "*****")
	}
	q := u.Query()
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, "*****")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}
