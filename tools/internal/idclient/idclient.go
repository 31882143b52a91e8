// Package idclient is the small client of the identity service's HTTP API that the tools share
// (csidev seed, csictl): sign-in, organizations, accreditations, operators and their CSV import
// in chunks, machine clients. It decodes answers into the identity service's own types and turns
// problem responses (RFC 9457) into *Problem errors.
package idclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/services/identity"
)

// pageSize is the page size of the lists the client walks through.
const pageSize = 500

// Client calls one identity service. Set the bearer token with SetToken after signing in.
// A Client is safe for concurrent use once its token is set.
type Client struct {
	baseURL string
	http    *http.Client
	token   string
}

// New returns a client of the identity service at baseURL ("http://127.0.0.1:8081"). A nil hc
// means a client with a one-minute timeout.
func New(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	return &Client{baseURL: strings.TrimRight(baseURL, "/"), http: hc}
}

// SetToken sets the access token sent with every request.
func (c *Client) SetToken(token string) { c.token = token }

// ProfileChoice is one of the profiles an operator with several may sign in with.
type ProfileChoice struct {
	ID               string `json:"id"`
	Role             string `json:"role"`
	OrganizationName string `json:"organization_name"`
}

// Problem is an error answer of the service.
type Problem struct {
	Method, Path string // the request
	Status       int    `json:"status"`
	Type         string `json:"type"`
	Title        string `json:"title"`
	Detail       string `json:"detail"`
	RequestID    string `json:"request_id"`
	// Errors names the invalid fields ("rows[3].email").
	Errors []errs.FieldError `json:"errors"`
	// Code is the OAuth2 error code of a token request ("invalid_grant").
	Code string `json:"error"`
	// Profiles lists the profiles to choose from when a sign-in needs one.
	Profiles []ProfileChoice `json:"profiles"`
}

// maxFieldsInError bounds the field errors Error spells out.
const maxFieldsInError = 5

// Error describes the problem on one line, with the first few invalid fields.
func (p *Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d", p.Method, p.Path, p.Status)
	if p.Title != "" {
		b.WriteString(" " + p.Title)
	}
	if p.Detail != "" {
		b.WriteString(": " + p.Detail)
	}
	for i, f := range p.Errors {
		if i == maxFieldsInError {
			fmt.Fprintf(&b, "; and %d more", len(p.Errors)-i)
			break
		}
		sep := "; "
		if i == 0 {
			sep = " ("
		}
		fmt.Fprintf(&b, "%s%s: %s", sep, f.Field, f.Message)
	}
	if len(p.Errors) > 0 {
		b.WriteString(")")
	}
	if p.RequestID != "" {
		b.WriteString(" [request " + p.RequestID + "]")
	}
	return b.String()
}

// do sends a request and decodes a 2xx JSON answer into out (unless out is nil).
func (c *Client) do(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return problemOf(method, path, resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func problemOf(method, path string, status int, body []byte) *Problem {
	p := &Problem{}
	if err := json.Unmarshal(body, p); err != nil || p.Status == 0 {
		detail := strings.TrimSpace(string(body))
		if len(detail) > 200 {
			detail = detail[:200] + "…"
		}
		p = &Problem{Title: http.StatusText(status), Detail: detail}
	}
	p.Method, p.Path, p.Status = method, path, status
	return p
}

func (c *Client) getJSON(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, "", nil, out)
}

func (c *Client) postJSON(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return c.do(ctx, http.MethodPost, path, "application/json", bytes.NewReader(b), out)
}

// list walks every page of a list at path (whose query may already hold parameters).
func list[T any](ctx context.Context, c *Client, path string, q url.Values) ([]T, error) {
	q.Set("limit", strconv.Itoa(pageSize))
	var all []T
	for {
		var page cursor.Page[T]
		if err := c.getJSON(ctx, path+"?"+q.Encode(), &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all, nil
		}
		q.Set("cursor", page.NextCursor)
	}
}

// SignIn runs the OAuth2 password grant for an operator; profileID picks one of several
// profiles (a *Problem with Profiles lists them when it is needed). It does not set the token.
func (c *Client) SignIn(ctx context.Context, email, password, profileID string) (identity.TokenResponse, error) {
	form := url.Values{"grant_type": {"password"}, "username": {email}, "password": {password}}
	if profileID != "" {
		form.Set("profile_id", profileID)
	}
	return c.postToken(ctx, form)
}

// ClientCredentials runs the OAuth2 client credentials grant for a machine client, asking for
// scopes (all of the client's when none). It does not set the token.
func (c *Client) ClientCredentials(ctx context.Context, clientID, secret string, scopes ...string) (identity.TokenResponse, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	return c.postToken(ctx, form)
}

func (c *Client) postToken(ctx context.Context, form url.Values) (identity.TokenResponse, error) {
	var t identity.TokenResponse
	err := c.do(ctx, http.MethodPost, "/v1/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), &t)
	return t, err
}

// Organizations lists the organizations of the caller's ambito, of one kind or (kind "") all.
func (c *Client) Organizations(ctx context.Context, kind identity.OrgKind) ([]identity.Organization, error) {
	q := url.Values{}
	if kind != "" {
		q.Set("kind", string(kind))
	}
	return list[identity.Organization](ctx, c, "/v1/organizations", q)
}

// CreateOrganization creates an organization in the caller's ambito.
func (c *Client) CreateOrganization(ctx context.Context, in identity.OrganizationInput) (identity.Organization, error) {
	var o identity.Organization
	return o, c.postJSON(ctx, "/v1/organizations", in, &o)
}

// Accreditations lists every accreditation of the caller's ambito.
func (c *Client) Accreditations(ctx context.Context) ([]identity.Accreditation, error) {
	return list[identity.Accreditation](ctx, c, "/v1/accreditations", url.Values{})
}

// CreateAccreditation accredits a cooperative for a service type.
func (c *Client) CreateAccreditation(ctx context.Context, in identity.AccreditationInput) (identity.Accreditation, error) {
	var a identity.Accreditation
	return a, c.postJSON(ctx, "/v1/accreditations", in, &a)
}

// Operators lists the operators the caller manages: those with a profile in organizationID
// (every one when nil) whose family name, given name or e-mail starts with query.
func (c *Client) Operators(ctx context.Context, organizationID *uuid.UUID, query string) ([]identity.Operator, error) {
	q := url.Values{}
	if organizationID != nil {
		q.Set("organization_id", organizationID.String())
	}
	if query != "" {
		q.Set("q", query)
	}
	return list[identity.Operator](ctx, c, "/v1/operators", q)
}

// CreateOperator creates an operator with profiles (and a password when given).
func (c *Client) CreateOperator(ctx context.Context, in identity.OperatorInput) (identity.Operator, error) {
	var o identity.Operator
	return o, c.postJSON(ctx, "/v1/operators", in, &o)
}

// ImportOperators sends one CSV file (at most identity.MaxImportRows rows) to the import
// endpoint; def fills the role and organization columns a file leaves out. The import is all or
// nothing: a *Problem names the bad rows as the file's lines ("rows[3].email").
func (c *Client) ImportOperators(ctx context.Context, csv []byte, def identity.ImportDefaults) (identity.ImportReport, error) {
	q := url.Values{}
	if def.OrganizationID != nil {
		q.Set("organization_id", def.OrganizationID.String())
	}
	if def.Role != "" {
		q.Set("role", string(def.Role))
	}
	path := "/v1/operators:import"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var rep identity.ImportReport
	return rep, c.do(ctx, http.MethodPost, path, "text/csv", bytes.NewReader(csv), &rep)
}

// Clients lists the machine clients of the caller's ambito.
func (c *Client) Clients(ctx context.Context) ([]identity.Client, error) {
	var page cursor.Page[identity.Client]
	return page.Items, c.getJSON(ctx, "/v1/clients", &page)
}

// CreateClient registers a machine client; the answer carries its secret, shown only once.
func (c *Client) CreateClient(ctx context.Context, in identity.ClientInput) (identity.ClientWithSecret, error) {
	var cl identity.ClientWithSecret
	return cl, c.postJSON(ctx, "/v1/clients", in, &cl)
}

// RotateClientSecret replaces a machine client's secret (POST /v1/clients/{id}/secret); the
// answer carries the new one, shown only once. The old secret stops working at once.
func (c *Client) RotateClientSecret(ctx context.Context, id uuid.UUID) (identity.ClientWithSecret, error) {
	var cl identity.ClientWithSecret
	return cl, c.do(ctx, http.MethodPost, "/v1/clients/"+id.String()+"/secret", "", nil, &cl)
}

// DisableClient disables a machine client (DELETE /v1/clients/{id}): its tokens and secret stop
// working.
func (c *Client) DisableClient(ctx context.Context, id uuid.UUID) error {
	return c.do(ctx, http.MethodDelete, "/v1/clients/"+id.String(), "", nil, nil)
}

// VerifyAudit runs GET /v1/audit:verify. Every service that keeps an audit trail serves it, so
// the client may point at any of them (New with that service's URL and SetToken).
func (c *Client) VerifyAudit(ctx context.Context) (audit.VerifyResponse, error) {
	var v audit.VerifyResponse
	err := c.getJSON(ctx, "/v1/audit:verify", &v)
	return v, err
}

// Health reads GET /healthz (open): the service's name and version.
func (c *Client) Health(ctx context.Context) (service, version string, err error) {
	var h struct {
		Service string `json:"service"`
		Version string `json:"version"`
	}
	err = c.getJSON(ctx, "/healthz", &h)
	return h.Service, h.Version, err
}
