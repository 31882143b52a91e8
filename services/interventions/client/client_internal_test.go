package client

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 5, 2, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, value string
		want        time.Duration
		ok          bool
	}{
		{"absent", "", 0, false},
		{"seconds", "7", 7 * time.Second, true},
		{"zero", "0", 0, true},
		{"bounded", "99999", time.Hour, true},
		{"date", now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{"date past", now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"garbage", "soon", 0, false},
		{"negative", "-3", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := retryAfter(tc.value, now)
			if got != tc.want || ok != tc.ok {
				t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tc.value, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	busy := http.Header{"Retry-After": {"1"}}
	for _, tc := range []struct {
		status int
		h      http.Header
		want   bool
	}{
		{408, nil, true}, {429, nil, true}, {502, nil, true}, {503, nil, true}, {504, nil, true},
		{409, busy, true}, {409, nil, false}, // an Idempotency-Key in progress; a rule
		{400, nil, false}, {401, nil, false}, {403, nil, false}, {404, nil, false}, {412, nil, false},
		{422, nil, false}, {500, nil, false},
	} {
		if got := retryable(tc.status, tc.h); got != tc.want {
			t.Errorf("retryable(%d, %v) = %v, want %v", tc.status, tc.h, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	c, err := New(Config{IdentityURL: "http://id", BaseURL: "http://iv", ClientID: "a", ClientSecret: "b",
		MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for n, ceil := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond,
		5: time.Second, 30: time.Second} {
		for range 50 {
			if got := c.backoff(n); got < ceil/2 || got > ceil {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, got, ceil/2, ceil)
			}
		}
	}
}

func TestProblemJSON(t *testing.T) {
	body := `{"type":"https://csi.example/problems/conflict","title":"Conflict","status":409,"detail":"overlaps another visit",
		"code":"overlap","errors":[{"field":"visits[1].start","message":"overlaps visit 0192"}],"existing_id":"0192"}`
	var p Problem
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	want := Problem{Type: "https://csi.example/problems/conflict", Title: "Conflict", Status: 409, Detail: "overlaps another visit",
		Code: "overlap", Errors: []FieldError{{Field: "visits[1].start", Message: "overlaps visit 0192"}},
		Extensions: map[string]json.RawMessage{"existing_id": json.RawMessage(`"0192"`)}}
	if diff := cmp.Diff(p, want); diff != "" {
		t.Errorf("problem (-got +want):\n%s", diff)
	}
	if !errors.Is(&p, ErrConflict) || errors.Is(&p, ErrNotFound) {
		t.Errorf("errors.Is of a 409: conflict %v, not found %v", errors.Is(&p, ErrConflict), errors.Is(&p, ErrNotFound))
	}
	if got := p.Error(); got != "409 overlaps another visit (overlap): visits[1].start overlaps visit 0192" {
		t.Errorf("Error() = %q", got)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var again Problem
	if err := json.Unmarshal(b, &again); err != nil || !cmp.Equal(again, p) {
		t.Errorf("round trip = %+v, %v", again, err)
	}
	var oauth Problem
	if err := json.Unmarshal([]byte(`{"type":"about:blank","title":"Unauthorized","status":401,"error":"invalid_client"}`), &oauth); err != nil ||
		oauth.Code != "invalid_client" || !errors.Is(&oauth, ErrUnauthorized) {
		t.Errorf("token endpoint problem = %+v, %v; want Code invalid_client", oauth, err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	ok := Config{IdentityURL: "https://id.example", BaseURL: "https://iv.example", ClientID: "a", ClientSecret: "b"}
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"no identity URL", func(c *Config) { c.IdentityURL = "" }},
		{"relative base URL", func(c *Config) { c.BaseURL = "/v1" }},
		{"no secret", func(c *Config) { c.ClientSecret = "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			if _, err := New(cfg); err == nil {
				t.Errorf("New accepted %+v", cfg)
			}
		})
	}
	if _, err := New(ok); err != nil {
		t.Errorf("New(%+v) = %v", ok, err)
	}
	for _, k := range []string{"", "a b", string(make([]byte, 201))} {
		if validKey(k) == nil {
			t.Errorf("key %q accepted", k)
		}
	}
}
