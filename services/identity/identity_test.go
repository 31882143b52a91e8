package identity_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/audit/audittest"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/identity"
)

func TestTokenVerifiesAgainstJWKS(t *testing.T) {
	s := newSuite(t)
	tok := s.Tokens[auth.RoleSocialWorker]
	v := auth.NewVerifier(auth.NewJWKS(s.Srv.URL+"/.well-known/jwks.json", nil), s.Iss.Name)
	c, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.Role != auth.RoleSocialWorker || c.OrgID != s.comune.ID.String() || c.AmbitoID != s.ambito.ID.String() || c.OrgKind != "comune" ||
		c.ISTATCode != s.comune.ISTATCode || c.ISTATCode == "" {
		t.Errorf("claims = %+v; want social_worker in the comune of the ambito", c)
	}
	if got := time.Until(c.ExpiresAt); got > 15*time.Minute || got < 14*time.Minute {
		t.Errorf("token lifetime %v, want 15 minutes", got)
	}
}

func TestBadInputIsRefusedAndWritesNothing(t *testing.T) {
	s := newSuite(t)
	good := func() map[string]any { return s.operatorBody(s.coopA.ID, auth.RoleEducator, false) }
	with := func(k string, v any) map[string]any { b := good(); b[k] = v; return b }
	tests := []struct {
		name   string
		body   any
		ctype  string
		status int
		field  string
	}{
		{"malformed JSON", `{"given_name": "Anna",`, "application/json", 400, "body"},
		{"unknown field", with("nickname", "x"), "application/json", 400, "nickname"},
		{"wrong type", with("given_name", 42), "application/json", 400, "given_name"},
		{"ten megabyte body", `{"given_name":"` + strings.Repeat("a", 10<<20) + `"}`, "application/json", 400, "body"},
		{"invalid email", with("email", "not-an-email"), "application/json", 400, "email"},
		{"invalid codice fiscale", with("fiscal_code", "BNCMRA45A01H501K"), "application/json", 400, "fiscal_code"},
		{"unknown role", with("profiles", []map[string]any{{"organization_id": s.coopA.ID, "role": "wizard", "valid_from": "2024-01-01"}}), "application/json", 400, "profiles[0].role"},
		{"role not held in that org kind", with("profiles", []map[string]any{{"organization_id": s.coopA.ID, "role": "social_worker", "valid_from": "2024-01-01"}}), "application/json", 400, "profiles[0].role"},
		{"weak password", with("password", "short"), "application/json", 400, "password"},
		{"invalid UTF-8", "{\"given_name\":\"\xff\xfe\"}", "application/json", 400, "body"},
		{"wrong content type", `given_name=x`, "text/plain", 415, "Content-Type"},
	}
	before := s.Count("SELECT count(*) FROM operators")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := s.Do("POST", "/v1/operators", s.admin, tt.body, nil, "Content-Type", tt.ctype)
			p := servicetest.DecodeProblem(t, resp)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %+v", resp.StatusCode, tt.status, p)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("content type %q", ct)
			}
			if !slices.Contains(p.Fields(), tt.field) {
				t.Errorf("problem fields %v do not name %q", p.Fields(), tt.field)
			}
		})
	}
	if after := s.Count("SELECT count(*) FROM operators"); after != before {
		t.Errorf("operators %d -> %d: a refused request wrote", before, after)
	}
}

func TestRepeatedWrongPasswordsAreSlowedDown(t *testing.T) {
	s := newSuite(t, func(c *identity.Config) { c.MaxFailures, c.LockBase = 3, time.Minute })
	email := s.users[auth.RoleEducator]
	form := func(pw string) url.Values {
		return url.Values{"grant_type": {"password"}, "username": {email}, "password": {pw}}
	}
	for i := range 3 {
		if resp := s.Do("POST", "/v1/oauth/token", "", form("Wrong-Password-99"), nil); resp.StatusCode != 400 {
			t.Fatalf("attempt %d: status %d, want 400 (invalid_grant)", i+1, resp.StatusCode)
		}
	}
	resp := s.Do("POST", "/v1/oauth/token", "", form(password), nil)
	if resp.StatusCode != 429 {
		t.Fatalf("locked account with the right password: status %d, want 429", resp.StatusCode)
	}
	if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q", ra)
	}
	// An unknown username is locked the same way: no difference tells who exists.
	for range 3 {
		s.Do("POST", "/v1/oauth/token", "", url.Values{"grant_type": {"password"}, "username": {"ghost@nowhere.example"}, "password": {"x"}}, nil)
	}
	if resp := s.Do("POST", "/v1/oauth/token", "", url.Values{"grant_type": {"password"}, "username": {"ghost@nowhere.example"}, "password": {"x"}}, nil); resp.StatusCode != 429 {
		t.Errorf("unknown user after failures: %d, want 429", resp.StatusCode)
	}
}

func TestRefreshRotationReuseAndRevocation(t *testing.T) {
	s := newSuite(t)
	email := s.users[auth.RoleSocialWorker]
	var first identity.TokenResponse
	s.Must(200, s.Do("POST", "/v1/oauth/token", "", url.Values{"grant_type": {"password"}, "username": {email}, "password": {password}}, &first))
	refresh := func(tok string) (*http.Response, identity.TokenResponse) {
		var tr identity.TokenResponse
		return s.Do("POST", "/v1/oauth/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}}, &tr), tr
	}
	resp, second := refresh(first.RefreshToken)
	s.Must(200, resp)
	if second.RefreshToken == first.RefreshToken || second.AccessToken == "" {
		t.Fatal("refresh did not rotate the refresh token")
	}
	// Replaying the used token is theft: refused, and the whole session is revoked.
	if resp, _ := refresh(first.RefreshToken); resp.StatusCode != 400 {
		t.Fatalf("reused refresh token: %d, want 400 invalid_grant", resp.StatusCode)
	}
	if resp, _ := refresh(second.RefreshToken); resp.StatusCode != 400 {
		t.Fatalf("token of a revoked family: %d, want 400 invalid_grant", resp.StatusCode)
	}
	// Sign-out revokes.
	var third identity.TokenResponse
	s.Must(200, s.Do("POST", "/v1/oauth/token", "", url.Values{"grant_type": {"password"}, "username": {email}, "password": {password}}, &third))
	s.Must(204, s.Do("POST", "/v1/oauth/revoke", third.AccessToken, url.Values{"token": {third.RefreshToken}}, nil))
	var oauth struct {
		Error string `json:"error"`
	}
	resp, _ = refresh(third.RefreshToken)
	if resp.StatusCode != 400 {
		t.Fatalf("revoked refresh token: %d, want 400", resp.StatusCode)
	}
	_ = json.NewDecoder(resp.Body).Decode(&oauth)
	if oauth.Error != "invalid_grant" {
		t.Errorf("error = %q, want invalid_grant (RFC 6749)", oauth.Error)
	}
}

func TestProfileChoice(t *testing.T) {
	s := newSuite(t)
	// An operator with two profiles must choose one; the token carries the chosen one.
	op := s.createOperator(s.admin, s.comune.ID, auth.RoleSocialWorker, true)
	var withTwo identity.Operator
	s.Must(201, s.Do("POST", "/v1/operators/"+op.ID.String()+"/profiles", s.admin,
		map[string]any{"organization_id": s.azienda.ID, "role": "planning_office", "valid_from": "2024-01-01"}, &withTwo))
	var p struct {
		Profiles []struct{ ID, Role string } `json:"profiles"`
	}
	resp := s.Do("POST", "/v1/oauth/token", "", url.Values{"grant_type": {"password"}, "username": {op.Email}, "password": {password}}, nil)
	servicetest.Decode(t, resp, &p)
	if resp.StatusCode != 400 || len(p.Profiles) != 2 {
		t.Fatalf("no profile chosen: %d with %d choices, want 400 listing 2", resp.StatusCode, len(p.Profiles))
	}
	var planning string
	for _, pr := range p.Profiles {
		if pr.Role == "planning_office" {
			planning = pr.ID
		}
	}
	tok := s.token(op.Email, password, planning)
	c, err := auth.NewVerifier(auth.NewJWKS(s.Srv.URL+"/.well-known/jwks.json", nil), s.Iss.Name).Verify(context.Background(), tok)
	if err != nil || c.Role != auth.RolePlanningOffice || c.ProfileID != planning {
		t.Fatalf("claims %+v, err %v; want the planning_office profile", c, err)
	}
}

func TestCoordinatorManagesOnlyOwnCooperative(t *testing.T) {
	s := newSuite(t)
	coord := s.Tokens[auth.RoleCoopCoordinator] // coordinator of coop A
	other := s.createOperator(s.admin, s.coopB.ID, auth.RoleEducator, false)
	own := s.createOperator(coord, s.coopA.ID, auth.RoleEducator, false)
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		hdr    []string
		want   int
	}{
		{"read own educator", "GET", "/v1/operators/" + own.ID.String(), nil, nil, 200},
		{"read other coop's educator", "GET", "/v1/operators/" + other.ID.String(), nil, nil, 403},
		{"update other coop's educator", "PATCH", "/v1/operators/" + other.ID.String(), map[string]any{"phone": "0200000"}, []string{"If-Match", `"1"`}, 403},
		{"create in other coop", "POST", "/v1/operators", s.operatorBody(s.coopB.ID, auth.RoleEducator, false), nil, 403},
		{"give a municipal role", "POST", "/v1/operators", s.operatorBody(s.comune.ID, auth.RoleSocialWorker, false), nil, 403},
		{"list other coop", "GET", "/v1/operators?organization_id=" + s.coopB.ID.String(), nil, nil, 403},
		{"end other coop's profile", "DELETE", "/v1/operators/" + other.ID.String() + "/profiles/" + other.Profiles[0].ID.String(), nil, nil, 403},
		{"reset other coop's password", "POST", "/v1/operators/" + other.ID.String() + "/password", map[string]any{"new_password": "Un-Altra-Parola-88"}, nil, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if resp := s.Do(tt.method, tt.path, coord, tt.body, nil, tt.hdr...); resp.StatusCode != tt.want {
				t.Errorf("%s %s = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
			}
		})
	}
	var page cursor.Page[identity.Operator]
	s.Must(200, s.Do("GET", "/v1/operators", coord, nil, &page))
	for _, op := range page.Items {
		for _, p := range op.Profiles {
			if p.OrganizationID != s.coopA.ID {
				t.Errorf("coordinator's list shows %s with a profile in %s", op.Email, p.OrganizationName)
			}
		}
	}
}

func TestOptimisticConcurrency(t *testing.T) {
	s := newSuite(t)
	op := s.createOperator(s.admin, s.coopA.ID, auth.RoleEducator, false)
	path := "/v1/operators/" + op.ID.String()
	if resp := s.Do("PATCH", path, s.admin, map[string]any{"phone": "1"}, nil); resp.StatusCode != 428 {
		t.Errorf("PATCH without If-Match = %d, want 428", resp.StatusCode)
	}
	var updated identity.Operator
	resp := s.Do("PATCH", path, s.admin, map[string]any{"phone": "02 1234"}, &updated, "If-Match", `"1"`)
	s.Must(200, resp)
	if resp.Header.Get("ETag") != `"2"` || updated.Phone != "02 1234" {
		t.Errorf("ETag %q phone %q", resp.Header.Get("ETag"), updated.Phone)
	}
	if resp := s.Do("PATCH", path, s.admin, map[string]any{"phone": "3"}, nil, "If-Match", `"1"`); resp.StatusCode != 412 {
		t.Errorf("stale If-Match = %d, want 412", resp.StatusCode)
	}
}

func TestIdempotentCreate(t *testing.T) {
	s := newSuite(t)
	body := s.operatorBody(s.coopA.ID, auth.RoleEducator, false)
	var a, b identity.Operator
	s.Must(201, s.Do("POST", "/v1/operators", s.admin, body, &a, "Idempotency-Key", "k-1"))
	resp := s.Do("POST", "/v1/operators", s.admin, body, &b, "Idempotency-Key", "k-1")
	s.Must(201, resp)
	if a.ID != b.ID || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay created %s then %s", a.ID, b.ID)
	}
	body["given_name"] = "Altro"
	if resp := s.Do("POST", "/v1/operators", s.admin, body, nil, "Idempotency-Key", "k-1"); resp.StatusCode != 422 {
		t.Errorf("same key, other body = %d, want 422", resp.StatusCode)
	}
	var n int
	_ = s.App.Pool.QueryRow(context.Background(), "SELECT count(*) FROM operators WHERE email = $1", a.Email).Scan(&n)
	if n != 1 {
		t.Errorf("%d operators with the e-mail, want 1", n)
	}
}

func TestImportIsAllOrNothing(t *testing.T) {
	s := newSuite(t)
	coord := s.Tokens[auth.RoleCoopCoordinator]
	var b strings.Builder
	b.WriteString("fiscal_code,given_name,family_name,email,role\n")
	for i := range 40 {
		p, email := person()
		if i == 17 {
			email = "broken-address"
		}
		fmt.Fprintf(&b, "%s,%s,%s,%s,educator\n", p.FiscalCode, p.GivenName, p.FamilyName, email)
	}
	before := s.Count("SELECT count(*) FROM operators")
	resp := s.Do("POST", "/v1/operators:import", coord, b.String(), nil)
	p := servicetest.DecodeProblem(t, resp)
	if resp.StatusCode != 400 || !slices.Contains(p.Fields(), "rows[19].email") {
		t.Fatalf("bad row: %d %v; want 400 naming rows[19].email (line 19 of the file)", resp.StatusCode, p.Fields())
	}
	if s.Count("SELECT count(*) FROM operators") != before {
		t.Fatal("a refused import wrote operators")
	}
	fixed := strings.Replace(b.String(), "broken-address", "fixed.address@test.csi.example", 1)
	var rep identity.ImportReport
	s.Must(201, s.Do("POST", "/v1/operators:import", coord, fixed, &rep))
	if rep.Imported != 40 || s.Count("SELECT count(*) FROM operators") != before+40 {
		t.Errorf("imported %d, operators %d -> %d", rep.Imported, before, s.Count("SELECT count(*) FROM operators"))
	}
	for _, op := range rep.Operators {
		if op.Profiles[0].OrganizationID != s.coopA.ID {
			t.Fatalf("imported into %s, want the coordinator's cooperative", op.Profiles[0].OrganizationName)
		}
	}
}

func TestReadinessFollowsTheDatabase(t *testing.T) {
	s := newSuite(t)
	status := func() int { return s.Do("GET", "/readyz", "", nil, nil).StatusCode }
	if got := status(); got != 200 {
		t.Fatalf("readyz = %d, want 200", got)
	}
	s.Proxy.Down()
	if got := status(); got != 503 {
		t.Fatalf("readyz with the database gone = %d, want 503", got)
	}
	// A request that needs the database fails fast with 503 and Retry-After, not a 500.
	resp := s.Do("GET", "/v1/organizations", s.admin, nil, nil)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("request with the database gone = %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	s.Proxy.Up(t)
	deadline := time.Now().Add(20 * time.Second)
	for status() != 200 {
		if time.Now().After(deadline) {
			t.Fatal("readyz did not return to 200 after the database came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.Must(200, s.Do("GET", "/v1/organizations", s.admin, nil, nil))
}

func TestMetricsByRouteTemplate(t *testing.T) {
	s := newSuite(t)
	op := s.createOperator(s.admin, s.coopA.ID, auth.RoleEducator, false)
	s.Must(200, s.Do("GET", "/v1/operators/"+op.ID.String(), s.admin, nil, nil))
	s.Do("GET", "/v1/operators/not-an-id", s.admin, nil, nil)
	resp, err := http.Get(s.Srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 1<<16)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	text := sb.String()
	for _, want := range []string{
		`csi_identity_http_requests_total{method="GET",route="GET /v1/operators/{id}",status="200"}`,
		`csi_identity_http_requests_total{method="GET",route="GET /v1/operators/{id}",status="400"}`,
		`csi_identity_http_request_duration_seconds_bucket{method="GET",route="GET /v1/operators/{id}"`,
		`csi_identity_db_pool_max_connections`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, op.ID.String()) {
		t.Error("/metrics contains a raw id")
	}
}

func TestClientCredentials(t *testing.T) {
	s := newSuite(t)
	var cl identity.ClientWithSecret
	s.Must(201, s.Do("POST", "/v1/clients", s.admin, map[string]any{"name": "Gestionale Alfa", "organization_id": s.coopA.ID,
		"scopes": []string{"accreditations:read", "events:read"}}, &cl))
	if cl.Secret == "" {
		t.Fatal("the secret is not shown on creation")
	}
	var list cursor.Page[identity.Client]
	s.Must(200, s.Do("GET", "/v1/clients", s.admin, nil, &list))
	if !slices.ContainsFunc(list.Items, func(c identity.Client) bool { return c.ID == cl.ID }) || strings.Contains(fmt.Sprint(list), cl.Secret) {
		t.Fatalf("clients %+v: want the new one listed, without its secret", list.Items)
	}
	var tr identity.TokenResponse
	s.Must(200, s.Do("POST", "/v1/oauth/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {cl.ID.String()},
		"client_secret": {cl.Secret}, "scope": {"events:read"}}, &tr))
	if tr.Scope != "events:read" || tr.RefreshToken != "" {
		t.Errorf("scope %q refresh %q", tr.Scope, tr.RefreshToken)
	}
	s.Must(200, s.Do("GET", "/v1/events?limit=5", tr.AccessToken, nil, nil))
	if resp := s.Do("GET", "/v1/operators", tr.AccessToken, nil, nil); resp.StatusCode != 403 {
		t.Errorf("client on operators = %d, want 403", resp.StatusCode)
	}
	if resp := s.Do("POST", "/v1/oauth/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {cl.ID.String()},
		"client_secret": {"wrong"}}, nil); resp.StatusCode != 401 {
		t.Errorf("wrong secret = %d, want 401", resp.StatusCode)
	}
	s.Must(204, s.Do("DELETE", "/v1/clients/"+cl.ID.String(), s.admin, nil, nil))
	if resp := s.Do("POST", "/v1/oauth/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {cl.ID.String()},
		"client_secret": {cl.Secret}}, nil); resp.StatusCode != 401 {
		t.Errorf("disabled client = %d, want 401", resp.StatusCode)
	}
}

func TestEventsAndAuditAreWritten(t *testing.T) {
	s := newSuite(t)
	op := s.createOperator(s.admin, s.coopA.ID, auth.RoleEducator, false)
	var n int
	ctx := context.Background()
	_ = s.App.Pool.QueryRow(ctx, "SELECT count(*) FROM outbox WHERE type = 'operator.created' AND aggregate_id = $1", op.ID.String()).Scan(&n)
	if n != 1 {
		t.Errorf("%d operator.created events, want 1", n)
	}
	_ = s.App.Pool.QueryRow(ctx, "SELECT count(*) FROM audit_records WHERE action = 'operator.create' AND resource_id = $1", op.ID.String()).Scan(&n)
	if n != 1 {
		t.Errorf("%d audit records, want 1", n)
	}
	// The privacy officer reads the trail of the ambito.
	var trail cursor.Page[audit.Record]
	s.Must(200, s.Do("GET", "/v1/audit?limit=500", s.Tokens[auth.RolePrivacyOfficer], nil, &trail))
	found := false
	for _, r := range trail.Items {
		found = found || r.Action == "operator.create" && r.ResourceID == op.ID.String()
		if r.AmbitoID != s.ambito.ID.String() {
			t.Errorf("trail shows a record of ambito %s", r.AmbitoID)
		}
	}
	if !found {
		t.Error("the trail lacks the operator.create record")
	}
}

func TestPasswordHashing(t *testing.T) {
	h, err := identity.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not argon2id with the configured parameters", h)
	}
	tests := []struct {
		name string
		pw   string
		want bool
	}{{"right", password, true}, {"wrong", password + "x", false}, {"empty", "", false}}
	for _, tt := range tests {
		if got := identity.VerifyPassword(h, tt.pw); got != tt.want {
			t.Errorf("%s: VerifyPassword = %v, want %v", tt.name, got, tt.want)
		}
	}
	if identity.VerifyPassword("$argon2id$v=19$m=99999999,t=1,p=1$AAAA$AAAA", "x") {
		t.Error("a hash with absurd parameters must not verify")
	}
}

func TestPasswordPolicy(t *testing.T) {
	tests := []struct {
		name, pw string
		ok       bool
	}{
		{"good", "Quattro-Stagioni-77", true},
		{"too short", "Ab1!", false},
		{"two classes", "abcdefghijkl123", false},
		{"contains name", "Giulia-Rossi-2026", false},
		{"common", "Password1234", false},
		{"too long", strings.Repeat("Aa1!", 40), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := identity.CheckPasswordPolicy("password", tt.pw, "Giulia", "Rossi")
			if (err == nil) != tt.ok {
				t.Errorf("CheckPasswordPolicy(%q) = %v, want ok=%v", tt.pw, err, tt.ok)
			}
		})
	}
}

// TestAuditTamperingShows: the trail marks a record altered behind the service's back, and
// GET /v1/audit:verify names it (both answers checked against the contract).
func TestAuditTamperingShows(t *testing.T) {
	s := newSuite(t)
	po := s.Tokens[auth.RolePrivacyOfficer]
	var verified audit.VerifyResponse
	s.Must(200, s.Do("GET", "/v1/audit:verify", po, nil, &verified))
	if !verified.OK || verified.Records == 0 || !verified.Checkpoints.Enabled {
		t.Fatalf("before tampering: %+v", verified)
	}
	var trail cursor.Page[audit.Record]
	s.Must(200, s.Do("GET", "/v1/audit?limit=500", po, nil, &trail))
	if len(trail.Items) < 2 {
		t.Fatalf("trail of %d records", len(trail.Items))
	}
	for _, r := range trail.Items {
		if r.Integrity != audit.IntegrityOK {
			t.Errorf("before tampering, record %s %s: integrity %q", r.ID, r.Action, r.Integrity)
		}
	}
	altered := trail.Items[len(trail.Items)/2]
	audittest.Tamper(t, s.App.Pool, fmt.Sprintf(`UPDATE audit_records SET outcome = 'failure' WHERE id = '%s'`, altered.ID))

	s.Must(200, s.Do("GET", "/v1/audit?limit=500", po, nil, &trail))
	audittest.CheckMarks(t, trail.Items, altered.ID)
	s.Must(200, s.Do("GET", "/v1/audit:verify", po, nil, &verified))
	audittest.CheckNamed(t, verified, altered.ID)
}
