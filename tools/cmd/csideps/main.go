// Command csideps checks the dependency rule of the repository (STYLE.md) on every package of
// the workspace, tests included, and exits with status 1 when a package breaks it (make lint):
//
//   - pkg imports only pkg: never a service, never the tools;
//   - a service (services/<name>) imports pkg and itself only: never another service, never the
//     tools (a consumer declares the small interface it needs and calls the peer over HTTP);
//   - the tools import pkg, the tools and a service's root package (its domain types, the
//     Service interface, the request types of its API) and its public client (client/: the
//     interventions client for the cooperatives, which the demo data goes through) only: never
//     a service's adapters (postgres/ and the like) nor its command (cmd/), which are the
//     service's own business;
//   - any other module of the workspace (charts/test) imports pkg and itself only;
//   - nothing imports a path under the repository's module path that is not a package of the
//     workspace.
//
// A known exception would be listed, with its reason, in exceptions below (none is, now); one
// that matches nothing any more is reported too, so that the list only shrinks.
//
//	go run ./tools/cmd/csideps [-root dir]
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/csi-lombardia/csi/tools/internal/repo"
)

// exception allows one import that breaks the rule; paths are relative to the repository's
// module path.
type exception struct {
	from, to, why string
}

// exceptions is empty: the last one, tools/cmd/csictl on services/identity/postgres to create
// the first ambito, became the identity binary's bootstrap subcommand. A new one needs its reason.
var exceptions []exception

func main() {
	if err := run(os.Args[1:], os.Stdout, exceptions); err != nil {
		fmt.Fprintln(os.Stderr, "csideps:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer, exceptions []exception) error {
	fs := flag.NewFlagSet("csideps", flag.ContinueOnError)
	rootFlag := fs.String("root", "", "the repository (default: the checkout around the working directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root, err := repo.Root(*rootFlag)
	if err != nil {
		return err
	}
	mods, pkgs, err := load(root)
	if err != nil {
		return err
	}
	ws, err := newWorkspace(root, mods)
	if err != nil {
		return err
	}
	problems := ws.check(pkgs, exceptions)
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d breaks of the dependency rule (STYLE.md, tools/cmd/csideps)", len(problems))
	}
	fmt.Fprintf(stdout, "csideps: %d packages in %d modules follow the dependency rule\n", len(pkgs), len(mods))
	return nil
}

// module is a module of the workspace, as go list -m -json describes it.
type module struct {
	Path string
	Dir  string
}

// pkg is a package, as go list -json describes it.
type pkg struct {
	ImportPath   string
	Module       *module
	Imports      []string
	TestImports  []string
	XTestImports []string
	Error        *struct{ Err string }
}

// load lists the workspace's modules and every package in them.
func load(root string) ([]module, []pkg, error) {
	out, err := goList(root, "-m", "-json")
	if err != nil {
		return nil, nil, err
	}
	var mods []module
	for d := json.NewDecoder(bytes.NewReader(out)); d.More(); {
		var m module
		if err := d.Decode(&m); err != nil {
			return nil, nil, fmt.Errorf("go list -m: %w", err)
		}
		mods = append(mods, m)
	}
	args := []string{"-e", "-json=ImportPath,Module,Imports,TestImports,XTestImports,Error"}
	for _, m := range mods {
		args = append(args, m.Path+"/...")
	}
	if out, err = goList(root, args...); err != nil {
		return nil, nil, err
	}
	var pkgs []pkg
	for d := json.NewDecoder(bytes.NewReader(out)); d.More(); {
		var p pkg
		if err := d.Decode(&p); err != nil {
			return nil, nil, fmt.Errorf("go list: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	return mods, pkgs, nil
}

// goList runs go list in root's workspace (root/go.work, whatever the environment says).
func goList(root string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(root, "go.work"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// layer is what a module is to the rule.
type layer struct {
	kind string // "pkg", "service", "tools" or "other"
	name string // the service's name; the module's directory for "other"
	path string // the module path
}

// workspace knows the layer of every module and the repository's module path.
type workspace struct {
	prefix string           // the repository's module path, e.g. github.com/csi-lombardia/csi
	layers map[string]layer // by module path
}

// newWorkspace derives each module's layer from its directory (pkg, services/<name>, tools,
// anything else) and the repository's module path from the modules' paths.
func newWorkspace(root string, mods []module) (*workspace, error) {
	ws := &workspace{layers: map[string]layer{}}
	for _, m := range mods {
		rel, err := filepath.Rel(root, m.Dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			return nil, fmt.Errorf("module %s in %s is outside the repository", m.Path, m.Dir)
		}
		rel = filepath.ToSlash(rel)
		prefix, ok := strings.CutSuffix(m.Path, "/"+rel)
		if !ok {
			return nil, fmt.Errorf("module %s in %s: its path does not end with its directory", m.Path, rel)
		}
		if ws.prefix != "" && ws.prefix != prefix {
			return nil, fmt.Errorf("module %s: the modules disagree on the repository's module path (%s, %s)", m.Path, ws.prefix, prefix)
		}
		ws.prefix = prefix
		l := layer{kind: "other", name: rel, path: m.Path}
		switch parts := strings.Split(rel, "/"); {
		case rel == "pkg":
			l.kind = "pkg"
		case rel == "tools":
			l.kind = "tools"
		case len(parts) == 2 && parts[0] == "services":
			l.kind, l.name = "service", parts[1]
		}
		ws.layers[m.Path] = l
	}
	if ws.prefix == "" {
		return nil, errors.New("no module in the workspace")
	}
	return ws, nil
}

// rel is a path relative to the repository's module path.
func (ws *workspace) rel(path string) string { return strings.TrimPrefix(path, ws.prefix+"/") }

// check returns a line for every import that breaks the rule, and for every exception that
// allowed nothing.
func (ws *workspace) check(pkgs []pkg, exceptions []exception) []string {
	owner := map[string]layer{} // import path -> layer of its module
	for _, p := range pkgs {
		if p.Module != nil {
			owner[p.ImportPath] = ws.layers[p.Module.Path]
		}
	}
	used := make([]bool, len(exceptions))
	var problems []string
	for _, p := range pkgs {
		if p.Module == nil {
			continue
		}
		from := ws.layers[p.Module.Path]
		seen := map[string]bool{}
		for _, imps := range [][]string{p.Imports, p.TestImports, p.XTestImports} {
			for _, imp := range imps {
				if seen[imp] || imp == p.ImportPath {
					continue
				}
				seen[imp] = true
				to, ours := owner[imp]
				if !ours {
					if strings.HasPrefix(imp, ws.prefix+"/") {
						problems = append(problems, fmt.Sprintf("%s imports %s, which is not a package of the workspace (go.work)", ws.rel(p.ImportPath), ws.rel(imp)))
					}
					continue
				}
				why := breaks(from, to, imp)
				if why == "" {
					continue
				}
				if i := slices.IndexFunc(exceptions, func(e exception) bool {
					return e.from == ws.rel(p.ImportPath) && e.to == ws.rel(imp)
				}); i >= 0 {
					used[i] = true
					continue
				}
				problems = append(problems, fmt.Sprintf("%s imports %s: %s", ws.rel(p.ImportPath), ws.rel(imp), why))
			}
		}
	}
	for i, e := range exceptions {
		if !used[i] {
			problems = append(problems, fmt.Sprintf("the exception %s -> %s allows nothing any more: remove it from tools/cmd/csideps", e.from, e.to))
		}
	}
	slices.Sort(problems)
	return slices.Compact(problems)
}

// breaks says why an import of imp (in module layer to) from a package of layer from breaks
// the rule, or "" when it does not.
func breaks(from, to layer, imp string) string {
	if to.kind == "pkg" || from.path == to.path {
		return ""
	}
	switch from.kind {
	case "pkg":
		return "pkg imports only pkg"
	case "service":
		if to.kind == "service" {
			return "a service never imports another service (declare the small interface you need and call the peer over HTTP)"
		}
		return "a service imports only pkg and itself"
	case "tools":
		if to.kind == "service" && imp != to.path && imp != to.path+"/client" {
			return "the tools may import a service's root package (its domain types) or its public client, never its adapters or its command"
		}
		if to.kind == "service" {
			return ""
		}
		return "the tools import only pkg, the tools and the services' root packages"
	default:
		return fmt.Sprintf("%s imports only pkg and itself", from.name)
	}
}
