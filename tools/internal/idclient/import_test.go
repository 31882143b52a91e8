package idclient

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/errs"
)

func TestSplitCSV(t *testing.T) {
	rows := func(from, to int) string {
		var b strings.Builder
		for i := from; i <= to; i++ {
			fmt.Fprintf(&b, "r%d,\"x, %d\"\n", i, i)
		}
		return b.String()
	}
	type chunk struct {
		First, Rows int
		CSV         string
	}
	for _, tc := range []struct {
		name    string
		in      string
		maxRows int
		want    []chunk
		wantErr string
	}{
		{name: "one chunk", in: "a,b\n" + rows(1, 3), maxRows: 5,
			want: []chunk{{0, 3, "a,b\n" + rows(1, 3)}}},
		{name: "exact multiple", in: "a,b\n" + rows(1, 4), maxRows: 2,
			want: []chunk{{0, 2, "a,b\n" + rows(1, 2)}, {2, 2, "a,b\n" + rows(3, 4)}}},
		{name: "remainder", in: "a,b\n" + rows(1, 5), maxRows: 2,
			want: []chunk{{0, 2, "a,b\n" + rows(1, 2)}, {2, 2, "a,b\n" + rows(3, 4)}, {4, 1, "a,b\n" + rows(5, 5)}}},
		{name: "blank lines are not rows", in: "a,b\n\nr1,\"x, 1\"\n\nr2,\"x, 2\"\n", maxRows: 1,
			want: []chunk{{0, 1, "a,b\n" + rows(1, 1)}, {1, 1, "a,b\n" + rows(2, 2)}}},
		{name: "zero means the service's limit", in: "a,b\n" + rows(1, 3), maxRows: 0,
			want: []chunk{{0, 3, "a,b\n" + rows(1, 3)}}},
		{name: "empty file", in: "", wantErr: "the file is empty"},
		{name: "header only", in: "a,b\n", wantErr: "no rows"},
		{name: "broken quoting", in: "a,b\nr1,\"x\n", wantErr: "read CSV"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chunks, err := SplitCSV(strings.NewReader(tc.in), tc.maxRows)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("SplitCSV = %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []chunk
			for _, c := range chunks {
				got = append(got, chunk{c.First, c.Rows, string(c.CSV)})
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("chunks (-got +want):\n%s", diff)
			}
		})
	}
}

func TestSplitCSVBytes(t *testing.T) {
	long := strings.Repeat("x", 1000)
	var b strings.Builder
	b.WriteString("a\n")
	for range 2000 { // about 2 MB: more than a request may carry
		b.WriteString(long + "\n")
	}
	chunks, err := SplitCSV(strings.NewReader(b.String()), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 2 {
		t.Fatalf("%d chunks, want 2", len(chunks))
	}
	for _, c := range chunks {
		if len(c.CSV) > maxChunkBytes+len(long)+2 {
			t.Errorf("chunk of %d bytes, want at most about %d", len(c.CSV), maxChunkBytes)
		}
	}
	if got := chunks[0].Rows + chunks[1].Rows; got != 2000 {
		t.Errorf("%d rows in the chunks, want 2000", got)
	}
}

func TestRenumber(t *testing.T) {
	p := &Problem{Errors: []errs.FieldError{
		{Field: "rows[2].email", Message: "must be an e-mail address"},
		{Field: "rows[13].fiscal_code", Message: "repeats row 4"},
		{Field: "header", Message: "unknown column \"x\""},
	}}
	renumber(p, 5000)
	want := []errs.FieldError{
		{Field: "rows[5002].email", Message: "must be an e-mail address"},
		{Field: "rows[5013].fiscal_code", Message: "repeats row 5004"},
		{Field: "header", Message: "unknown column \"x\""},
	}
	if diff := cmp.Diff(p.Errors, want); diff != "" {
		t.Errorf("renumbered errors (-got +want):\n%s", diff)
	}
}

func TestProblemError(t *testing.T) {
	p := &Problem{Method: "POST", Path: "/v1/operators:import", Status: 400, Title: "Bad Request",
		Detail: "the request has invalid fields", RequestID: "r1"}
	for i := range 7 {
		p.Errors = append(p.Errors, errs.FieldError{Field: fmt.Sprintf("rows[%d].email", i+2), Message: "must be an e-mail address"})
	}
	want := "POST /v1/operators:import: 400 Bad Request: the request has invalid fields (rows[2].email: must be an e-mail address; " +
		"rows[3].email: must be an e-mail address; rows[4].email: must be an e-mail address; rows[5].email: must be an e-mail address; " +
		"rows[6].email: must be an e-mail address; and 2 more) [request r1]"
	if got := p.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
