package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCheck: each kind of import against the rule, on a synthetic workspace.
func TestCheck(t *testing.T) {
	const p = "example.org/csi/"
	ws, err := newWorkspace("/r", []module{
		{p + "pkg", "/r/pkg"}, {p + "services/alpha", "/r/services/alpha"}, {p + "services/beta", "/r/services/beta"},
		{p + "tools", "/r/tools"}, {p + "charts/test", "/r/charts/test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	known := []pkg{
		{ImportPath: p + "pkg/httpx", Module: &module{Path: p + "pkg"}},
		{ImportPath: p + "services/alpha", Module: &module{Path: p + "services/alpha"}},
		{ImportPath: p + "services/alpha/postgres", Module: &module{Path: p + "services/alpha"}},
		{ImportPath: p + "services/alpha/cmd/alpha", Module: &module{Path: p + "services/alpha"}},
		{ImportPath: p + "services/alpha/client", Module: &module{Path: p + "services/alpha"}},
		{ImportPath: p + "services/beta", Module: &module{Path: p + "services/beta"}},
		{ImportPath: p + "tools/internal/client", Module: &module{Path: p + "tools"}},
		{ImportPath: p + "charts/test", Module: &module{Path: p + "charts/test"}},
	}
	tests := []struct {
		name      string
		from, imp string // the importing package, the import (relative to example.org/csi)
		test      bool   // the import is in a test file
		want      string // a part of the problem; "" for none
	}{
		{"pkg imports pkg", "pkg/audit", "pkg/httpx", false, ""},
		{"pkg imports the standard library", "pkg/audit", "strings", false, ""},
		{"pkg imports a service", "pkg/audit", "services/alpha", false, "pkg/audit imports services/alpha: pkg imports only pkg"},
		{"pkg imports the tools", "pkg/audit", "tools/internal/client", false, "pkg imports only pkg"},
		{"pkg's test imports a service", "pkg/audit", "services/beta", true, "pkg imports only pkg"},
		{"a service imports pkg", "services/alpha", "pkg/httpx", false, ""},
		{"a service's adapter imports its domain", "services/alpha/postgres", "services/alpha", false, ""},
		{"a service's command imports its adapter", "services/alpha/cmd/alpha", "services/alpha/postgres", false, ""},
		{"a service imports another", "services/beta", "services/alpha", false, "never imports another service"},
		{"a service's test imports another", "services/beta", "services/alpha/postgres", true, "never imports another service"},
		{"a service imports the tools", "services/beta", "tools/internal/client", false, "a service imports only pkg and itself"},
		{"the tools import a service's domain", "tools/internal/demo", "services/alpha", false, ""},
		{"the tools import a service's public client", "tools/internal/demo", "services/alpha/client", false, ""},
		{"the tools import a service's adapter", "tools/internal/demo", "services/alpha/postgres", false, "never its adapters or its command"},
		{"the tools import a service's command", "tools/cmd/x", "services/alpha/cmd/alpha", false, "never its adapters or its command"},
		{"the tools import the chart tests", "tools/cmd/x", "charts/test", false, "the tools import only pkg, the tools and the services' root packages"},
		{"the chart tests import pkg", "charts/test", "pkg/httpx", false, ""},
		{"the chart tests import a service", "charts/test", "services/alpha", false, "charts/test imports only pkg and itself"},
		{"an import outside the workspace", "tools/cmd/x", "services/gamma", false, "services/gamma, which is not a package of the workspace"},
		{"the allowed exception", "tools/cmd/csictl", "services/alpha/postgres", false, ""},
	}
	allowed := []exception{{"tools/cmd/csictl", "services/alpha/postgres", "a test"}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			modPath := p + strings.Split(tc.from, "/")[0] // pkg, tools
			if parts := strings.Split(tc.from, "/"); parts[0] == "services" || parts[0] == "charts" {
				modPath = p + parts[0] + "/" + parts[1]
			}
			imp := tc.imp
			if strings.Contains(imp, "/") { // not the standard library
				imp = p + imp
			}
			from := pkg{ImportPath: p + tc.from, Module: &module{Path: modPath}}
			if tc.test {
				from.XTestImports = []string{imp}
			} else {
				from.Imports = []string{imp}
			}
			// The exception is used only by its own case; elsewhere it is stale, and says so.
			got := ws.check(append(append([]pkg{}, known...), from), allowed)
			var problems []string
			for _, g := range got {
				if !strings.HasPrefix(g, "the exception") {
					problems = append(problems, g)
				}
			}
			stale := len(got) != len(problems)
			if want := tc.name != "the allowed exception"; stale != want {
				t.Errorf("stale exception reported: %v, want %v (%v)", stale, want, got)
			}
			switch {
			case tc.want == "" && len(problems) > 0:
				t.Errorf("problems %q, want none", problems)
			case tc.want != "" && (len(problems) != 1 || !strings.Contains(problems[0], tc.want)):
				t.Errorf("problems %q, want one containing %q", problems, tc.want)
			}
		})
	}
}

func TestNewWorkspaceRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		mods []module
		want string
	}{
		{"outside the repository", []module{{"x/pkg", "/elsewhere/pkg"}}, "outside the repository"},
		{"path and directory disagree", []module{{"x/lib", "/r/pkg"}}, "does not end with its directory"},
		{"two module paths", []module{{"x/pkg", "/r/pkg"}, {"y/tools", "/r/tools"}}, "disagree"},
		{"no module", nil, "no module"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := newWorkspace("/r", tc.mods); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("newWorkspace error = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestRunOnTrees runs the whole check (go list included) on two small workspaces under
// testdata: one that follows the rule, one that breaks it in every way.
func TestRunOnTrees(t *testing.T) {
	t.Setenv("GOPROXY", "off") // testdata/bad imports a module that exists nowhere
	t.Setenv("GOFLAGS", "")
	var out bytes.Buffer
	if err := run([]string{"-root", filepath.Join("testdata", "clean")}, &out, nil); err != nil {
		t.Fatalf("testdata/clean: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "follow the dependency rule") {
		t.Errorf("testdata/clean output:\n%s", out.String())
	}

	out.Reset()
	stale := []exception{{"tools/cmd/old", "services/alpha/postgres", "moved long ago"}}
	err := run([]string{"-root", filepath.Join("testdata", "bad")}, &out, stale)
	if err == nil {
		t.Fatalf("testdata/bad passed:\n%s", out.String())
	}
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		"charts/test imports services/beta: charts/test imports only pkg and itself",
		"pkg/audit imports services/alpha: pkg imports only pkg",
		"services/beta imports services/alpha: a service never imports another service (declare the small interface you need and call the peer over HTTP)",
		"services/beta imports tools/internal/client: a service imports only pkg and itself",
		"the exception tools/cmd/old -> services/alpha/postgres allows nothing any more: remove it from tools/cmd/csideps",
		"tools/cmd/gamma imports services/gamma, which is not a package of the workspace (go.work)",
		"tools/cmd/tool imports services/alpha/postgres: the tools may import a service's root package (its domain types) or its public client, never its adapters or its command",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("testdata/bad (-got +want):\n%s", diff)
	}
}
