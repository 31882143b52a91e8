package registry

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// FuzzImportRows runs the population-register import's parsing and validation as StartImport
// does, without the database: the header (importHeader), then every record (importRow). No
// panic; a refused header is an Invalid error naming the body; every row problem names a
// field and its line; an accepted row has the values the staging needs.
func FuzzImportRows(f *testing.F) {
	s := &Service{places: places.Default(), cfg: DefaultConfig(), now: time.Now} // birth dates are checked against today
	for _, seed := range []string{
		"fiscal_code,family_name,given_name,sex,birth_date\nBBBSLV30A01F205X,Bobo,Silvia,F,1930-01-01\n",
		"\ufefffiscal_code,family_name,given_name,sex,birth_date,birth_place,citizenship,address,postal_code,family_number,relationship\n" +
			"RSSMRA80A01F205X,Rossi,Mario,M,1980-01-01,F205,IT,Via Roma 1,20100,F1,head\n,,,,,,,,,,\n",
		"fiscal_code,family_name\n",
		"fiscal_code,family_name,given_name,sex,birth_date\n\"open,x,y,M,2000-02-30\n",
		"a,b\n1,2\n",
		// Values the store refuses or the domain cannot hold: control characters, dates out of range.
		"fiscal_code,family_name,given_name,sex,birth_date\nBBBSLV30A01F205X,Bo\x00bo,Sil\u0085via,F,0000-01-01\n",
		"fiscal_code,family_name,given_name,sex,birth_date\nBBBSLV30A01F205X,Bobo,Silvia,F,1899-01-01\n",
		"fiscal_code,family_name,given_name,sex,birth_date\nBBBSLV30A01F205X,Bobo,Silvia,F,10000-01-01\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := csv.NewReader(bytes.NewReader(body))
		r.FieldsPerRecord = -1
		header, err := r.Read()
		if err != nil {
			return // StartImport: "must be a CSV file with a header line"
		}
		col, err := importHeader(header)
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) || e.Kind != errs.Invalid || len(e.Fields) == 0 {
				t.Fatalf("importHeader(%q) = %v, want an Invalid error with fields", header, err)
			}
			return
		}
		for {
			rec, err := r.Read()
			if err == io.EOF {
				return
			}
			if err != nil {
				continue // a row error, recorded with its line
			}
			line, _ := r.FieldPos(0)
			row, problems := s.importRow(rec, col, int64(line))
			for _, p := range problems {
				if p.Field == "" || p.Message == "" || p.Line != int64(line) {
					t.Fatalf("importRow(%q) problem %+v, want a field, a message and line %d", rec, p, line)
				}
			}
			if len(problems) == 0 {
				if row.FiscalCode == "" || row.Canonical == "" || row.FamilyName == "" || row.GivenName == "" ||
					!slices.Contains([]string{"M", "F"}, row.Sex) || row.BirthDate.Before(valid.BirthMin) || row.BirthDate.After(time.Now()) ||
					!valid.LineOK(row.FamilyName) || !valid.LineOK(row.GivenName) || row.BirthPlace == "" {
					t.Fatalf("importRow(%q) accepted an incomplete row %+v", rec, row)
				}
			}
		}
	})
}
