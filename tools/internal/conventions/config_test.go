package conventions

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/tools/internal/repo"
)

var envName = regexp.MustCompile(`^CSI_[A-Z0-9_]+$`)

// readVariables returns the CSI_... variables named by a string literal in the non-test Go
// files of dirs (pkg/app and each service's cmd: the only places that read the environment),
// with the file of each.
func readVariables(t *testing.T, dirs []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if v, err := strconv.Unquote(lit.Value); err == nil && envName.MatchString(v) {
						out[v] = path
					}
					// A name built from a prefix ("CSI_X_" + p) cannot be checked: spell it out.
					if v, err := strconv.Unquote(lit.Value); err == nil && strings.HasPrefix(v, "CSI_") && strings.HasSuffix(v, "_") {
						t.Errorf("%s builds a variable name from %q: spell each name out so that it can be checked", path, v)
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// tableVariables returns the CSI_... names in the first column of the Markdown tables of the
// section of a README that starts with heading (the whole file when heading is empty).
func tableVariables(t *testing.T, path, heading string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if heading != "" {
		i := strings.Index(text, "\n"+heading+"\n")
		if i < 0 {
			t.Fatalf("%s has no %q section", path, heading)
		}
		text = text[i+len(heading)+2:]
		level := heading[:strings.IndexByte(heading, ' ')+1]
		if j := strings.Index(text, "\n"+level); j >= 0 {
			text = text[:j]
		}
	}
	out := map[string]bool{}
	name := regexp.MustCompile("`(CSI_[A-Z0-9_]+)`")
	for _, line := range strings.Split(text, "\n") {
		cells := strings.Split(line, "|")
		if !strings.HasPrefix(line, "|") || len(cells) < 3 {
			continue
		}
		for _, m := range name.FindAllStringSubmatch(cells[1], -1) {
			out[m[1]] = true
		}
	}
	return out
}

// TestREADMEConfiguration: every variable a service reads is in the README's configuration
// tables, and every variable those tables (and the services' READMEs) list is read.
func TestREADMEConfiguration(t *testing.T) {
	root, err := repo.Root("")
	if err != nil {
		t.Fatal(err)
	}
	dirs := []string{filepath.Join(root, "pkg", "app")}
	cmds, err := filepath.Glob(filepath.Join(root, "services", "*", "cmd"))
	if err != nil || len(cmds) == 0 {
		t.Fatalf("no services/*/cmd under %s (%v)", root, err)
	}
	dirs = append(dirs, cmds...)
	read := readVariables(t, dirs)
	// A service's own configuration loader (services/<name>/*_config.go) reads variables too.
	loaders, err := filepath.Glob(filepath.Join(root, "services", "*", "*_config.go"))
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(read, readVariables(t, loaders))
	maps.Copy(read, peerVariables(t, cmds))
	if len(read) < 10 {
		t.Fatalf("found only %d variables read in %v: the scan is broken", len(read), dirs)
	}
	documented := tableVariables(t, filepath.Join(root, "README.md"), "## Configuration")
	for _, v := range slices.Sorted(maps.Keys(read)) {
		if !documented[v] {
			t.Errorf("%s is read by %s but missing from the configuration tables of README.md", v, read[v])
		}
	}
	readmes, _ := filepath.Glob(filepath.Join(root, "services", "*", "README.md"))
	for _, readme := range append([]string{filepath.Join(root, "README.md")}, readmes...) {
		heading := ""
		if readme == filepath.Join(root, "README.md") {
			heading = "## Configuration"
		}
		for _, v := range slices.Sorted(maps.Keys(tableVariables(t, readme, heading))) {
			if _, ok := read[v]; !ok {
				t.Errorf("%s lists %s, which nothing reads", readme, v)
			}
		}
	}
}

// peerVariables returns the variables pkg/peers reads for each command that calls
// peers.LoadSettings(env, "<service>", consulAddr, map[string]string{"<peer>": url, ...}): the
// service's machine client (CSI_<SERVICE>_CLIENT_ID, _CLIENT_SECRET), each peer's URL
// (CSI_<PEER>_URL), identity's URL and the peer timeout. pkg/peers builds the first names from
// the arguments, so they are read here from the call, which must spell them as literals.
func peerVariables(t *testing.T, dirs []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	upper := func(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "-", "_")) }
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "LoadSettings" {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "peers" {
					return true
				}
				lit := func(e ast.Expr) (string, bool) {
					l, ok := e.(*ast.BasicLit)
					if !ok || l.Kind != token.STRING {
						return "", false
					}
					v, err := strconv.Unquote(l.Value)
					return v, err == nil
				}
				service, ok := "", len(call.Args) == 4
				if ok {
					service, ok = lit(call.Args[1])
				}
				peers, isMap := (*ast.CompositeLit)(nil), false
				if ok {
					peers, isMap = call.Args[3].(*ast.CompositeLit)
				}
				if !ok || !isMap {
					t.Errorf("%s: peers.LoadSettings must name the service and its peers as literals so that their variables can be checked", path)
					return true
				}
				out["CSI_"+upper(service)+"_CLIENT_ID"], out["CSI_"+upper(service)+"_CLIENT_SECRET"] = path, path
				out["CSI_IDENTITY_URL"], out["CSI_PEER_TIMEOUT"] = path, path
				for _, el := range peers.Elts {
					kv, ok := el.(*ast.KeyValueExpr)
					name, isLit := "", false
					if ok {
						name, isLit = lit(kv.Key)
					}
					if !isLit {
						t.Errorf("%s: peers.LoadSettings names a peer that is not a literal", path)
						continue
					}
					out["CSI_"+upper(name)+"_URL"] = path
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestTableVariables checks the Markdown reader on a small document.
func TestTableVariables(t *testing.T) {
	path := filepath.Join(t.TempDir(), "README.md")
	doc := "# X\n\n## Configuration\n\n| variable | default |\n|---|---|\n| `CSI_A`, `CSI_B` | `CSI_NOT_A_NAME` |\n" +
		"\ntext `CSI_IN_TEXT`\n\n### Sub\n\n| `CSI_C` | x |\n\n## Other\n\n| `CSI_D` | x |\n"
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	got := tableVariables(t, path, "## Configuration")
	if diff := cmp.Diff(got, map[string]bool{"CSI_A": true, "CSI_B": true, "CSI_C": true}); diff != "" {
		t.Errorf("tableVariables() (-got +want):\n%s", diff)
	}
}
