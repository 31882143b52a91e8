package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// runCtl runs csictl with args and returns what it printed.
func runCtl(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, stdio{out: &out, err: &errOut})
	return out.String(), errOut.String(), err
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		wantOut    string
		wantErr    error
		wantErrOut string
	}{
		{name: "help lists the commands", args: []string{"help"}, wantOut: "import-operators"},
		{name: "version", args: []string{"version"}, wantOut: "csictl dev"},
		{name: "no command", args: nil, wantErr: errUsage},
		{name: "unknown command", args: []string{"frobnicate"}, wantErr: errUsage},
		{name: "bootstrap is the identity binary's", args: []string{"bootstrap"}, wantErr: errUsage, wantErrOut: "identity bootstrap -h"},
		{name: "unknown flag", args: []string{"token", "-nope"}, wantErr: errUsage},
		{name: "import without a file", args: []string{"import-operators"}, wantErr: errUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := runCtl(t, tc.args...)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("csictl %q = %v, want %v", tc.args, err, tc.wantErr)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("csictl %q printed %q, want %q in it", tc.args, out, tc.wantOut)
			}
			if !strings.Contains(errOut, tc.wantErrOut) {
				t.Errorf("csictl %q printed %q on stderr, want %q in it", tc.args, errOut, tc.wantErrOut)
			}
		})
	}
}
