package servicetest

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/auth/authtest"
	"github.com/csi-lombardia/csi/pkg/openapitest"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

// Call is one row of a service's role × endpoint table (DESIGN.md "Authorization"): an
// operation with real fixtures, who may call it and what they get. RoleMatrix calls it with every
// role, every machine client and no token; Sweep sends bad input to it as its first caller.
type Call struct {
	Name, Method, Path string // Path is concrete: real ids, a query
	// Body returns a fresh request body for each request (nil: none).
	Body func() any
	// Roles are the roles admitted; every other role gets 403.
	Roles []auth.Role
	// OK is the status of an admitted call.
	OK int
	// Clients are the machine clients (Suite.Clients) admitted, with their status; the others
	// get 403.
	Clients map[string]int
	// Status, when set, gives an admitted role another status than OK (a 404 for a record out of
	// the role's scope); 0 keeps OK.
	Status func(role auth.Role) int
	// IfMatch sends the ETag of GET Path (read with the first admitted caller) as If-Match.
	IfMatch bool
	// After runs after each answer with the admitted status (waiting for a job the call started).
	After func(token string, resp *http.Response)
	// Caller is the sweep's caller: a role, or "client:<name>"; empty means the first of Roles,
	// then the first client by name.
	Caller string
	// Fresh, when set, gives RoleMatrix the path of each request instead of Path, for a call that
	// uses its resource up (a profile ends once). Path is one such path: it names the operation
	// and gives the sweep its parameters.
	Fresh func() string
}

func (c Call) body() any {
	if c.Body == nil {
		return nil
	}
	return c.Body()
}

// caller returns the token of the call's first admitted caller: the suite's own (Tokens,
// Clients) in the suite's ambito, one minted for another ambito.
func (s *Suite) caller(c Call, ambito uuid.UUID) string {
	who := c.Caller
	if who == "" && len(c.Roles) > 0 {
		who = string(c.Roles[0])
	}
	if who == "" && len(c.Clients) > 0 {
		names := make([]string, 0, len(c.Clients))
		for n := range c.Clients {
			names = append(names, n)
		}
		slices.Sort(names)
		who = "client:" + names[0]
	}
	name, client := strings.CutPrefix(who, "client:")
	switch {
	case who == "":
		return ""
	case client && ambito == s.Ambito:
		return s.Clients[name]
	case client:
		return s.ClientToken(ambito, s.ClientScopes[name])
	case ambito == s.Ambito:
		return s.Tokens[auth.Role(who)]
	}
	cl := s.Claims(auth.Role(who))
	cl.AmbitoID = ambito.String()
	return s.Iss.Token(s.T, cl)
}

func (s *Suite) ifMatch(c Call) []string {
	if !c.IfMatch {
		return nil
	}
	resp := s.Do("GET", c.Path, s.caller(c, s.Ambito), nil, nil)
	return []string{"If-Match", resp.Header.Get("ETag")}
}

// RoleMatrix calls every row of calls with every role, every machine client and no token, and
// checks each status; then that the table covers every authenticated operation of the contract,
// and that each client is admitted exactly where the document's security names one of its
// scopes, every declared scope being held by some client.
func (s *Suite) RoleMatrix(t *testing.T, calls []Call) {
	for _, c := range calls {
		t.Run(c.Name, func(t *testing.T) {
			check := func(who, token string, want int) {
				path := c.Path
				if c.Fresh != nil {
					path = c.Fresh()
				}
				resp := s.Do(c.Method, path, token, c.body(), nil, s.ifMatch(c)...)
				if resp.StatusCode != want {
					t.Errorf("%s: %s %s = %d, want %d", who, c.Method, path, resp.StatusCode, want)
				} else if c.After != nil && want == c.OK {
					c.After(token, resp)
				}
			}
			for _, role := range auth.Roles {
				want := http.StatusForbidden
				if slices.Contains(c.Roles, role) {
					want = c.OK
					if c.Status != nil {
						if st := c.Status(role); st != 0 {
							want = st
						}
					}
				}
				check(string(role), s.Tokens[role], want)
			}
			for name, tok := range s.Clients {
				want, ok := c.Clients[name]
				if !ok {
					want = http.StatusForbidden
				}
				check("client "+name, tok, want)
			}
			check("no token", "", http.StatusUnauthorized)
		})
	}
	if s.Contract == nil {
		t.Fatal("RoleMatrix needs the service's contract (Config.OpenAPI)")
	}
	covered := map[openapitest.Operation]Call{}
	for _, c := range calls {
		op, ok := s.operation(c)
		if !ok {
			t.Errorf("%s %s (%s) matches no operation of the contract", c.Method, c.Path, c.Name)
			continue
		}
		covered[op] = c
	}
	held := map[string]bool{}
	for _, scopes := range s.ClientScopes {
		for _, sc := range scopes {
			held[sc] = true
		}
	}
	for _, op := range s.Contract.Operations() {
		if slices.Contains(auth.OpenPaths, op.Path) {
			continue
		}
		c, ok := covered[op]
		if !ok {
			t.Errorf("the role matrix does not cover %s", op)
			continue
		}
		for name, scopes := range s.ClientScopes {
			documented := slices.ContainsFunc(s.Contract.Scopes(op), func(sc string) bool { return slices.Contains(scopes, sc) })
			if _, admitted := c.Clients[name]; admitted != documented {
				t.Errorf("%s: client %s (%v) is admitted: %v; the document's security (%v) says %v", op, name, scopes, admitted, s.Contract.Scopes(op), documented)
			}
		}
	}
	for _, sc := range s.Contract.DeclaredScopes() {
		if !held[sc] {
			t.Errorf("no client of the suite holds %q, which the document declares", sc)
		}
	}
}

// operation is the contract's operation that a call's concrete path is an instance of: of those
// whose template matches, the one with the most literal characters (/v1/cases:search before
// /v1/cases/{id}).
func (s *Suite) operation(c Call) (openapitest.Operation, bool) {
	path, _, _ := strings.Cut(c.Path, "?")
	var best openapitest.Operation
	bestLit := -1
	for _, op := range s.Contract.Operations() {
		if op.Method != c.Method {
			continue
		}
		re, lit := templateRegexp(op.Path)
		if re.MatchString(path) && lit > bestLit {
			best, bestLit = op, lit
		}
	}
	return best, bestLit >= 0
}

var param = regexp.MustCompile(`\{[^}/]+\}`)

// templateRegexp matches the paths of a template ("/v1/cases/{id}:close"): a parameter is one
// non-empty segment part. lit counts the template's literal characters.
func templateRegexp(tmpl string) (*regexp.Regexp, int) {
	var b strings.Builder
	b.WriteString("^")
	lit, last := 0, 0
	for _, m := range param.FindAllStringIndex(tmpl, -1) {
		b.WriteString(regexp.QuoteMeta(tmpl[last:m[0]]))
		lit += m[0] - last
		b.WriteString(`[^/:]+`)
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(tmpl[last:]))
	lit += len(tmpl) - last
	b.WriteString("$")
	return regexp.MustCompile(b.String()), lit
}

// Sweep runs the contract sweep (openapitest.Sweep) over every operation: each operation's
// caller is its row's first admitted caller, its path parameters the row's fixtures; tokens of
// another ambito, expired, of another key and just beyond the clock leeway are added, and the
// database's rows are counted around every operation's bad requests. cfg may set the other
// fields (ListCriteria, Skip, PathParams for an operation the row's path does not give).
func (s *Suite) Sweep(t *testing.T, calls []Call, cfg openapitest.SweepConfig) {
	byOp := map[string]Call{}
	for _, c := range calls {
		if op, ok := s.operation(c); ok {
			byOp[op.OperationID] = c
		}
	}
	for _, op := range s.Contract.Operations() {
		if _, ok := byOp[op.OperationID]; !ok && !slices.Contains(auth.OpenPaths, op.Path) {
			t.Errorf("the sweep does not know who may call %s: add it to the role table", op)
		}
	}
	tokenIn := func(op openapitest.Operation, ambito uuid.UUID) string {
		if c, ok := byOp[op.OperationID]; ok {
			return s.caller(c, ambito)
		}
		return ""
	}
	anyRole := s.Claims(auth.RoleServiceManager)
	otherKey := authtest.New(t).Token(t, anyRole)
	cfg.BaseURL, cfg.Client = s.Srv.URL, s.Srv.Client()
	cfg.Token = func(op openapitest.Operation) string { return tokenIn(op, s.Ambito) }
	cfg.OtherTenant = func(op openapitest.Operation) string { return tokenIn(op, uuid.Must(uuid.NewV7())) }
	cfg.BadTokens = func() map[string]string {
		bad := map[string]string{
			"expired":                 s.Iss.TokenAt(t, anyRole, time.Now().Add(-time.Hour), 15*time.Minute),
			"signed with another key": otherKey,
		}
		for name, tt := range authtest.BeyondLeeway(time.Now(), auth.DefaultLeeway) {
			bad[name] = s.Iss.TokenTimes(t, anyRole, tt)
		}
		return bad
	}
	given := cfg.PathParams
	cfg.PathParams = func(op openapitest.Operation) map[string]string {
		params := map[string]string{}
		if c, ok := byOp[op.OperationID]; ok {
			params = PathParams(op.Path, c.Path)
		}
		if given != nil {
			for k, v := range given(op) {
				params[k] = v
			}
		}
		return params
	}
	if cfg.Rows == nil {
		cfg.Rows = func(tb testing.TB) map[string]int64 { return pgtest.RowCounts(tb, s.App.Pool) }
	}
	s.Contract.Sweep(t, cfg)
}

// PathParams reads the values of a template's parameters from a concrete path that matches it:
// PathParams("/v1/cases/{id}/plan", "/v1/cases/0190.../plan") = {"id": "0190..."}.
func PathParams(tmpl, path string) map[string]string {
	path, _, _ = strings.Cut(path, "?")
	names := param.FindAllString(tmpl, -1)
	re, _ := templateRegexp(tmpl)
	src := strings.Replace(re.String(), `[^/:]+`, `([^/:]+)`, -1)
	m := regexp.MustCompile(src).FindStringSubmatch(path)
	out := map[string]string{}
	for i, n := range names {
		if i+1 < len(m) {
			out[strings.Trim(n, "{}")] = m[i+1]
		}
	}
	return out
}
