package catalog

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/tools/internal/repo"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Service
		wantErr string // a part of the error; "" for none
	}{
		{name: "comments, header and blank lines", in: "# the list\n# name\tport\n\nidentity\t8081\nregistry\t8082\n",
			want: []Service{{"identity", 8081}, {"registry", 8082}}},
		{name: "no final newline, CRLF", in: "identity\t8081\r\nregistry\t8082", want: []Service{{"identity", 8081}, {"registry", 8082}}},
		{name: "spaces instead of a tab", in: "identity 8081\n", wantErr: "line 1"},
		{name: "a third column", in: "identity\t8081\tx\n", wantErr: "one tab"},
		{name: "upper-case name", in: "Identity\t8081\n", wantErr: `name "Identity"`},
		{name: "port not a number", in: "identity\teighty\n", wantErr: "port \"eighty\""},
		{name: "privileged port", in: "identity\t80\n", wantErr: "1024 to 65535"},
		{name: "repeated name", in: "identity\t8081\nidentity\t8082\n", wantErr: "line 2: identity is on line 1"},
		{name: "repeated port", in: "identity\t8081\nregistry\t8081\n", wantErr: "port 8081 of registry"},
		{name: "empty", in: "# name\tport\n", wantErr: "no service"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("Parse (-got +want):\n%s", diff)
			}
		})
	}
}

// TestRepositoryFile reads the checkout's own file: it parses, and identity comes first.
func TestRepositoryFile(t *testing.T) {
	root, err := repo.Root("")
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := Read(root)
	if err != nil {
		t.Fatal(err)
	}
	if svcs[0].Name != "identity" {
		t.Errorf("the first service is %s: identity must start first", svcs[0].Name)
	}
}
