package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The kinds of refusal, for errors.Is on an error of the client (a *Problem matches the one of
// its status).
var (
	// ErrUnauthorized: the client's credentials are wrong or disabled (the token endpoint's
	// 401), or the service refused the token even after a new one was got.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden (403): the client lacks the scope, or the data is another cooperative's.
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict (409): a rule about the state of things, e.g. an overlapping visit or a
	// locked month (Problem.Code tells which).
	ErrConflict = errors.New("conflict")
	// ErrInvalid (400, 422): the input breaks a rule; Problem.Errors names the fields.
	ErrInvalid = errors.New("invalid")
	// ErrPreconditionFailed (412): If-Match did not match: the resource changed meanwhile.
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrUnavailable (429, 502, 503, 504, 408): still so after every retry.
	ErrUnavailable = errors.New("unavailable")
)

// FieldError names a field of the request and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is a refusal of the service: the RFC 9457 problem details it answered.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// RequestID identifies the request in the service's logs: quote it when asking for help.
	RequestID string `json:"request_id,omitempty"`
	// Code is the machine-readable reason of a rule failure ("overlap", "outside_period",
	// "authorization_not_active", "operator_not_of_cooperative", "month_locked", …); on the
	// token endpoint, the OAuth2 error ("invalid_client", "invalid_scope", …).
	Code string `json:"code,omitempty"`
	// Errors names the fields refused.
	Errors []FieldError `json:"errors,omitempty"`
	// Extensions are the problem's other members, as sent.
	Extensions map[string]json.RawMessage `json:"-"`
	// RetryAfter is the service's Retry-After, when it sent one.
	RetryAfter time.Duration `json:"-"`
}

// UnmarshalJSON reads the members the type names and keeps the others in Extensions. On the
// token endpoint, the OAuth2 "error" member becomes Code.
func (p *Problem) UnmarshalJSON(b []byte) error {
	type plain Problem
	var q plain
	if err := json.Unmarshal(b, &q); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	for _, k := range []string{"type", "title", "status", "detail", "instance", "request_id", "code", "errors"} {
		delete(all, k)
	}
	if q.Code == "" {
		if raw, ok := all["error"]; ok {
			_ = json.Unmarshal(raw, &q.Code)
		}
	}
	if len(all) > 0 {
		q.Extensions = all
	}
	*p = Problem(q)
	return nil
}

// MarshalJSON writes the problem with its extension members.
func (p Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	b, err := json.Marshal(plain(p))
	if err != nil || len(p.Extensions) == 0 {
		return b, err
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range p.Extensions {
		if _, taken := m[k]; !taken {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// Error is the status, the title or detail, the code and the fields named.
func (p *Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d", p.Status)
	if text := p.Detail; text != "" {
		b.WriteString(" " + text)
	} else if p.Title != "" {
		b.WriteString(" " + p.Title)
	} else {
		b.WriteString(" " + http.StatusText(p.Status))
	}
	if p.Code != "" {
		b.WriteString(" (" + p.Code + ")")
	}
	for i, f := range p.Errors {
		if i == 0 {
			b.WriteString(":")
		} else {
			b.WriteString(";")
		}
		b.WriteString(" " + f.Field + " " + f.Message)
	}
	return b.String()
}

// Is matches the sentinel error of the problem's status (ErrNotFound for 404, …).
func (p *Problem) Is(target error) bool { return target != nil && kindOf(p.Status) == target }

// Field returns the message of the first error naming field, and whether there is one.
func (p *Problem) Field(field string) (string, bool) {
	for _, f := range p.Errors {
		if f.Field == field {
			return f.Message, true
		}
	}
	return "", false
}

func kindOf(status int) error {
	switch status {
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		return ErrForbidden
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		return ErrConflict
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return ErrInvalid
	case http.StatusPreconditionFailed:
		return ErrPreconditionFailed
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable,
		http.StatusGatewayTimeout:
		return ErrUnavailable
	}
	return nil
}

// problemOf makes the problem of an answer that is not a success: the body when it is a
// problem, else one made of the status.
func problemOf(resp *http.Response, body []byte) *Problem {
	p := &Problem{}
	if err := json.Unmarshal(body, p); err != nil || p.Status == 0 {
		p = &Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode)}
		if s := strings.TrimSpace(string(body)); s != "" && len(s) < 500 && !strings.HasPrefix(s, "{") {
			p.Detail = s
		}
	}
	p.Status = resp.StatusCode
	if p.RequestID == "" {
		p.RequestID = resp.Header.Get("X-Request-Id")
	}
	p.RetryAfter, _ = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	return p
}
