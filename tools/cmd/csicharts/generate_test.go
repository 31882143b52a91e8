package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestJSONRoundTripKeepsOrderAndFormat(t *testing.T) {
	// The format of json.MarshalIndent with two spaces, members in their written order.
	in := `{
  "z": 1,
  "a": {
    "enum": [
      "x",
      "<y>"
    ],
    "empty": {},
    "none": [],
    "n": 1e-9,
    "b": false,
    "nil": null
  }
}
`
	v, err := decodeJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out, err := encodeJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(out), in); diff != "" {
		t.Errorf("round trip (-got +want):\n%s", diff)
	}
	for _, bad := range []string{`{"a": 1, "a": 2}`, `{"a": 1} {}`, `{"a": }`} {
		if _, err := decodeJSON([]byte(bad)); err == nil {
			t.Errorf("decodeJSON(%s) succeeded", bad)
		}
	}
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name, base, additions, want, wantErr string
	}{
		{name: "new members after the base's", base: `{"b": 1, "a": {"x": 1}}`, additions: `{"c": 3, "a": {"y": 2}}`,
			want: `{"b": 1, "a": {"x": 1, "y": 2}, "c": 3}`},
		{name: "arrays gain what they lack", base: `{"required": ["a", "b"]}`, additions: `{"required": ["b", "c"]}`,
			want: `{"required": ["a", "b", "c"]}`},
		{name: "an equal value is no change", base: `{"type": "object"}`, additions: `{"type": "object"}`, want: `{"type": "object"}`},
		{name: "a changed value is refused", base: `{"p": {"type": "string"}}`, additions: `{"p": {"type": "integer"}}`,
			wantErr: `/p/type: the additions change string to integer`},
		{name: "an object over a value is refused", base: `{"p": "s"}`, additions: `{"p": {}}`, wantErr: "/p: an object in the additions"},
		{name: "an array over an object is refused", base: `{"p": {}}`, additions: `{"p": []}`, wantErr: "/p: an array in the additions, an object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base, _ := decodeJSON([]byte(tc.base))
			additions, _ := decodeJSON([]byte(tc.additions))
			before, _ := encodeJSON(base)
			got, err := merge(base, additions, "")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("merge error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, _ := decodeJSON([]byte(tc.want))
			g, _ := encodeJSON(got)
			w, _ := encodeJSON(want)
			if diff := cmp.Diff(string(g), string(w)); diff != "" {
				t.Errorf("merge (-got +want):\n%s", diff)
			}
			if after, _ := encodeJSON(base); !bytes.Equal(after, before) {
				t.Errorf("merge changed its base:\n%s", after)
			}
		})
	}
}

func TestSetServicePort(t *testing.T) {
	const values = "# chart\nimage:\n  port: 1\nservice:\n  # Kubernetes Service type.\n  type: ClusterIP\n  # The port.\n  port: 8082\n\nconfig:\n  port: 3\n"
	tests := []struct {
		name, in, want, wantErr string
	}{
		{name: "the service block's port only", in: values, want: strings.Replace(values, "port: 8082", "port: 9000", 1)},
		{name: "a trailing comment is kept", in: "service:\n  port: 8082 # the port\n", want: "service:\n  port: 9000 # the port\n"},
		{name: "no final newline", in: "service:\n  port: 8082", want: "service:\n  port: 9000"},
		{name: "no port in the block", in: "service:\n  type: ClusterIP\nconfig:\n  port: 3\n", wantErr: "service block"},
		{name: "no service block", in: "image:\n  port: 1\n", wantErr: `top-level "service:"`},
		{name: "a nested port is not the block's", in: "service:\n  extra:\n    port: 8082\n", wantErr: "top-level"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := setServicePort([]byte(tc.in), 9000)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("setServicePort error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(got), tc.want); diff != "" {
				t.Errorf("setServicePort (-got +want):\n%s", diff)
			}
		})
	}
}

// writeTree writes files (path -> content) under a new directory and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		path := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// miniTree is a repository with two services, one chart with additions.
func miniTree() map[string]string {
	return map[string]string{
		"go.work":                              "go 1.26\n",
		"services/services.tsv":                "# name\tport\nidentity\t8081\nregistry\t8082\n",
		serviceBase:                            `{"$schema": "s", "$comment": "base", "type": "object", "properties": {"config": {"type": "object", "properties": {"logLevel": {"type": "string"}}}}}`,
		"charts/identity/Chart.yaml":           "name: identity\n",
		"charts/identity/values.yaml":          "service:\n  port: 1\n",
		"charts/registry/Chart.yaml":           "name: registry\n",
		"charts/registry/values.yaml":          "service:\n  port: 8082\n",
		"charts/registry/" + additionsName:     `{"properties": {"config": {"properties": {"jwksURL": {"type": "string"}}}}}`,
		umbrellaBase:                           `{"$schema": "s", "type": "object", "properties": {"global": {"type": "object", "properties": {"existingSecrets": {"type": "object"}}}}}`,
		"charts/csi/Chart.yaml":                "name: csi\n",
		"charts/csi/templates/NOTES.txt":       "notes\n",
		"charts/common/templates/_names.tpl":   "{{/* names */}}\n",
		"charts/common/Chart.yaml":             "name: common\n",
		"charts/registry/templates/deploy.yml": "x\n",
	}
}

func TestGenerate(t *testing.T) {
	root := writeTree(t, miniTree())
	files, err := generate(root)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		got[f.path] = string(f.data)
	}
	want := map[string]string{
		servicesTpl: got[servicesTpl], // its content is checked below
		"charts/identity/values.schema.json": `{
  "$schema": "s",
  "$comment": "Generated by go run ./tools/cmd/csicharts (make charts-sync) from charts/common/schema/service.json: edit those, not this file.",
  "title": "Values of the CSI identity chart",
  "type": "object",
  "properties": {
    "config": {
      "type": "object",
      "properties": {
        "logLevel": {
          "type": "string"
        }
      }
    }
  }
}
`,
		"charts/identity/values.yaml": "service:\n  port: 8081\n",
		"charts/registry/values.schema.json": `{
  "$schema": "s",
  "$comment": "Generated by go run ./tools/cmd/csicharts (make charts-sync) from charts/common/schema/service.json and charts/registry/values.schema.additions.json: edit those, not this file.",
  "title": "Values of the CSI registry chart",
  "type": "object",
  "properties": {
    "config": {
      "type": "object",
      "properties": {
        "logLevel": {
          "type": "string"
        },
        "jwksURL": {
          "type": "string"
        }
      }
    }
  }
}
`,
		"charts/registry/values.yaml": "service:\n  port: 8082\n",
		"charts/csi/values.schema.json": `{
  "$schema": "s",
  "$comment": "Generated by go run ./tools/cmd/csicharts (make charts-sync) from charts/csi/values.schema.base.json and services/services.tsv: edit those, not this file.",
  "title": "Values of the CSI umbrella chart",
  "type": "object",
  "properties": {
    "global": {
      "type": "object",
      "properties": {
        "existingSecrets": {
          "type": "object",
          "propertyNames": {
            "enum": [
              "identity",
              "registry"
            ]
          }
        },
        "identityURL": {
          "type": "string",
          "description": "CSI_IDENTITY_URL of the services that call identity (those whose chart has config.identityURL); template expressions allowed"
        },
        "registryURL": {
          "type": "string",
          "description": "CSI_REGISTRY_URL of the services that call registry (those whose chart has config.registryURL); template expressions allowed"
        }
      }
    },
    "identity": {
      "type": "object",
      "description": "values of the identity chart (checked by its own schema)",
      "properties": {
        "enabled": {
          "type": "boolean"
        }
      }
    },
    "registry": {
      "type": "object",
      "description": "values of the registry chart (checked by its own schema)",
      "properties": {
        "enabled": {
          "type": "boolean"
        }
      }
    }
  }
}
`,
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("generate (-got +want):\n%s", diff)
	}
	for _, line := range []string{"- name: identity\n  port: 8081\n- name: registry\n  port: 8082\n", `{{- define "common.services" -}}`, "do not edit"} {
		if !strings.Contains(got[servicesTpl], line) {
			t.Errorf("%s lacks %q:\n%s", servicesTpl, line, got[servicesTpl])
		}
	}
}

func TestGenerateRefuses(t *testing.T) {
	tests := []struct {
		name    string
		change  map[string]string // "" removes the file
		wantErr string
	}{
		{"a service without a chart", map[string]string{"charts/registry/Chart.yaml": ""}, "lists registry, which has no chart"},
		{"additions that change the base", map[string]string{"charts/registry/" + additionsName: `{"type": "array"}`}, "the additions change object to array"},
		{"a values.yaml without service.port", map[string]string{"charts/identity/values.yaml": "image: {}\n"}, "charts/identity/values.yaml: no"},
		{"a broken base", map[string]string{serviceBase: `{"type": }`}, serviceBase},
		{"a broken service list", map[string]string{"services/services.tsv": "identity 8081\n"}, "services.tsv"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := miniTree()
			for p, c := range tc.change {
				if c == "" {
					delete(files, p)
				} else {
					files[p] = c
				}
			}
			if _, err := generate(writeTree(t, files)); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("generate error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestRunCheckAndWrite: -check reports what is out of date and changes nothing; without it the
// files are written, and a second -check passes.
func TestRunCheckAndWrite(t *testing.T) {
	root := writeTree(t, miniTree())
	var out bytes.Buffer
	err := run([]string{"-check", "-root", root}, &out)
	if err == nil || !strings.Contains(out.String(), "out of date: charts/identity/values.yaml") {
		t.Fatalf("run -check = %v, output:\n%s", err, out.String())
	}
	if b, _ := os.ReadFile(filepath.Join(root, "charts/identity/values.yaml")); string(b) != "service:\n  port: 1\n" {
		t.Errorf("-check wrote values.yaml: %q", b)
	}
	out.Reset()
	if err := run([]string{"-root", root}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "wrote charts/identity/values.yaml") || strings.Contains(out.String(), "wrote charts/registry/values.yaml\n") {
		t.Errorf("run output:\n%s", out.String())
	}
	out.Reset()
	if err := run([]string{"-check", "-root", root}, &out); err != nil {
		t.Errorf("run -check after writing: %v\n%s", err, out.String())
	}
}
