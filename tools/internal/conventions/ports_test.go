package conventions

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/csi-lombardia/csi/tools/internal/catalog"
	"github.com/csi-lombardia/csi/tools/internal/repo"
)

// loadBaseArgs returns the string arguments (service name, default listen address) of the one
// app.LoadBase call of a main.go.
func loadBaseArgs(path string) (name, addr string, err error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return "", "", err
	}
	var calls []*ast.CallExpr
	ast.Inspect(f, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			if sel, ok := c.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "LoadBase" {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "app" {
					calls = append(calls, c)
				}
			}
		}
		return true
	})
	if len(calls) != 1 {
		return "", "", fmt.Errorf("%d calls of app.LoadBase, want one", len(calls))
	}
	args := calls[0].Args
	if len(args) != 3 {
		return "", "", fmt.Errorf("app.LoadBase with %d arguments", len(args))
	}
	lit := func(e ast.Expr) (string, error) {
		if l, ok := e.(*ast.BasicLit); ok && l.Kind == token.STRING {
			return strconv.Unquote(l.Value)
		}
		return "", fmt.Errorf("app.LoadBase argument %T is not a string literal: spell the name and the address out so that they can be checked", e)
	}
	if name, err = lit(args[1]); err != nil {
		return "", "", err
	}
	if addr, err = lit(args[2]); err != nil {
		return "", "", err
	}
	return name, addr, nil
}

// TestServicePorts: services/services.tsv lists every service that has a command, and each
// command's default listen address (app.LoadBase) is ":<its port in the file>", under its own
// name. So do the development server of its OpenAPI document and the CSI_HTTP_ADDR row of its
// README; pkg/app's default CSI_JWKS_URL is on identity's port.
func TestServicePorts(t *testing.T) {
	root, err := repo.Root("")
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := catalog.Read(root)
	if err != nil {
		t.Fatal(err)
	}
	port := map[string]int{}
	for _, s := range svcs {
		port[s.Name] = s.Port
	}

	mains, err := filepath.Glob(filepath.Join(root, "services", "*", "cmd", "*", "main.go"))
	if err != nil || len(mains) == 0 {
		t.Fatalf("no services/*/cmd/*/main.go under %s (%v)", root, err)
	}
	for _, m := range mains {
		rel, _ := filepath.Rel(root, m)
		parts := strings.Split(filepath.ToSlash(rel), "/") // services/<name>/cmd/<cmd>/main.go
		if parts[1] != parts[3] {
			t.Errorf("%s: the command of services/%s is cmd/%s", rel, parts[1], parts[1])
		}
		if _, ok := port[parts[1]]; !ok {
			t.Errorf("%s: %s is not in %s", rel, parts[1], catalog.Path)
		}
	}

	checked := 0
	for _, s := range svcs {
		main := filepath.Join(root, "services", s.Name, "cmd", s.Name, "main.go")
		if _, err := os.Stat(main); err != nil {
			t.Logf("%s: no %s in this checkout: its ports are not checked", s.Name, filepath.Join("services", s.Name, "cmd", s.Name, "main.go"))
			continue
		}
		checked++
		want := ":" + strconv.Itoa(s.Port)
		name, addr, err := loadBaseArgs(main)
		if err != nil {
			t.Errorf("%s: %v", main, err)
			continue
		}
		if name != s.Name || addr != want {
			t.Errorf("%s: app.LoadBase(env, %q, %q), want app.LoadBase(env, %q, %q) (%s)", main, name, addr, s.Name, want, catalog.Path)
		}
		// The OpenAPI document's first server, the development instance.
		if doc, err := os.ReadFile(filepath.Join(root, "services", s.Name, "api", "openapi.yaml")); err == nil {
			m := regexp.MustCompile(`(?m)^servers:\n  - url: (\S+)`).FindSubmatch(doc)
			if m == nil {
				t.Errorf("services/%s/api/openapi.yaml has no servers list", s.Name)
			} else if !strings.HasSuffix(string(m[1]), want) {
				t.Errorf("services/%s/api/openapi.yaml: the first server is %s, want one on port %d", s.Name, m[1], s.Port)
			}
		}
		// The README's CSI_HTTP_ADDR row, when it has one.
		if readme, err := os.ReadFile(filepath.Join(root, "services", s.Name, "README.md")); err == nil {
			for _, line := range strings.Split(string(readme), "\n") {
				if strings.HasPrefix(line, "| `CSI_HTTP_ADDR`") && !strings.Contains(line, "`"+want+"`") {
					t.Errorf("services/%s/README.md: %q does not name %s", s.Name, line, want)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no service of the file has a command: the check is broken")
	}

	// pkg/app's default key set is identity's.
	src, err := os.ReadFile(filepath.Join(root, "pkg", "app", "app.go"))
	if err != nil {
		t.Fatal(err)
	}
	jwks := regexp.MustCompile(`"http://127\.0\.0\.1:([0-9]+)/\.well-known/jwks\.json"`).FindSubmatch(src)
	if jwks == nil {
		t.Fatal("pkg/app/app.go has no default CSI_JWKS_URL")
	}
	if got := string(jwks[1]); got != strconv.Itoa(port["identity"]) {
		t.Errorf("pkg/app/app.go: the default CSI_JWKS_URL is on port %s, identity's port is %d", got, port["identity"])
	}
}

// TestLoadBaseArgs shows that the scan finds the call and refuses what it cannot check.
func TestLoadBaseArgs(t *testing.T) {
	tests := []struct {
		name, src, wantName, wantAddr, wantErr string
	}{
		{"literal", `base := app.LoadBase(env, "registry", ":8082")`, "registry", ":8082", ""},
		{"constant", `base := app.LoadBase(env, "registry", addr)`, "", "", "not a string literal"},
		{"none", `base := other.LoadBase(env, "registry", ":8082")`, "", "", "0 calls"},
		{"two", `a, b := app.LoadBase(env, "x", ":1"), app.LoadBase(env, "y", ":2")`, "", "", "2 calls"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "main.go")
			src := "package main\n\nfunc run() {\n\t" + tc.src + "\n\t_ = base\n}\n"
			if strings.Contains(tc.src, "a, b") {
				src = "package main\n\nfunc run() {\n\t" + tc.src + "\n\t_, _ = a, b\n}\n"
			}
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			name, addr, err := loadBaseArgs(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("loadBaseArgs error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || name != tc.wantName || addr != tc.wantAddr {
				t.Errorf("loadBaseArgs = %q, %q, %v; want %q, %q", name, addr, err, tc.wantName, tc.wantAddr)
			}
		})
	}
}
