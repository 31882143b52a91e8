package identity

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/places"
)

// FuzzParseImport runs the operator import's CSV parsing and row validation (no database:
// nothing is written before every row passed): no panic; every problem names a field; a file
// with no problems yields one operator per row, each with its line.
func FuzzParseImport(f *testing.F) {
	s := NewService(nil, nil, nil, places.Default(), DefaultConfig(), slog.New(slog.DiscardHandler))
	org := uuid.MustParse("0190c0de-0000-7000-8000-000000000002")
	for _, seed := range []string{
		"fiscal_code,given_name,family_name,email\nRSSMRA80A01F205X,Mario,Rossi,mario@example.org\n",
		"\ufefffiscal_code;given_name\n",
		"fiscal_code,given_name,family_name,email,role,organization_id,valid_from,valid_to\nX,Y,Z,a@b.c,oss,not-an-id,2024-13-01,\n",
		"fiscal_code,given_name,family_name,email\n\"unterminated,a,b,c\n",
		"",
	} {
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, defaults bool) {
		var def ImportDefaults
		if defaults {
			def = ImportDefaults{OrganizationID: &org, Role: "educator"}
		}
		in, lines, problems := s.parseImport(bytes.NewReader(body), def)
		for _, p := range problems {
			if p.Field == "" || p.Message == "" {
				t.Fatalf("parseImport(%q): a problem without a field or message: %+v", body, p)
			}
		}
		if len(in) != len(lines) {
			t.Fatalf("parseImport(%q): %d operators, %d lines", body, len(in), len(lines))
		}
		if len(problems) == 0 {
			if len(in) == 0 {
				t.Fatalf("parseImport(%q): no rows and no problem", body)
			}
			for _, op := range in {
				if op.FiscalCode == "" || strings.TrimSpace(op.Email) == "" || len(op.Profiles) != 1 {
					t.Fatalf("parseImport(%q): accepted an incomplete operator %+v", body, op)
				}
			}
		}
	})
}
