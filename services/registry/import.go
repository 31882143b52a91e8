package registry

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// ImportColumns are the columns of a population-register extract; the first five are required.
var ImportColumns = []string{"fiscal_code", "family_name", "given_name", "sex", "birth_date",
	"birth_place", "citizenship", "address", "postal_code", "family_number", "relationship"}

// maxStoredErrors bounds the row errors kept per import (all are counted).
const maxStoredErrors = 10_000

// StartImport reads a CSV extract of the population register of the comune istat, validates
// every row, stages the valid ones (COPY) and answers; the rows are then applied in the
// background, in chunks, and GET /v1/imports/{id} reports the progress. Rows are matched on
// the codice fiscale: a re-import updates, never duplicates. The register's family number
// builds the households.
func (s *Service) StartImport(ctx context.Context, istat string, body io.Reader) (Import, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Import{}, err
	}
	p, ok := s.places.ByISTAT(istat)
	if !ok {
		return Import{}, errs.InvalidField("istat_code", "is not the ISTAT code of a current comune")
	}
	if !sc.wide && istat != sc.istat {
		return Import{}, errs.E(errs.Forbidden, "a comune's operators import their own comune's register")
	}
	r := csv.NewReader(body)
	r.ReuseRecord = true
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return Import{}, errs.InvalidField("body", "must be a CSV file with a header line")
	}
	col, err := importHeader(header)
	if err != nil {
		return Import{}, err
	}
	im := Import{ID: newID(), AmbitoID: sc.ambitoID, ISTATCode: istat, Status: ImportProcessing, CreatedAt: s.now(),
		CreatedBy: sc.claims.Subject, Errors: []RowError{}}
	if err := s.store.CreateImport(ctx, im); err != nil {
		return Import{}, err
	}
	var rowErrs []RowError
	var total, invalid int64
	seen := make(map[string]int64, 1024)
	var readErr error
	rows := func(yield func(ImportRow) bool) {
		for {
			rec, err := r.Read()
			if err == io.EOF {
				return
			}
			total++
			if total > s.cfg.MaxImportRows {
				readErr = errs.InvalidField("body", "has more than %d rows", s.cfg.MaxImportRows)
				return
			}
			if err != nil {
				var pe *csv.ParseError
				if !errors.As(err, &pe) {
					readErr = errs.InvalidField("body", "could not be read")
					return
				}
				invalid++
				rowErrs = appendErr(rowErrs, RowError{Line: int64(pe.Line), Field: "body", Message: pe.Err.Error()})
				continue
			}
			line, _ := r.FieldPos(0)
			row, problems := s.importRow(rec, col, int64(line))
			if len(problems) == 0 {
				if prev, dup := seen[row.FiscalCode]; dup {
					problems = append(problems, RowError{Line: row.Line, Field: "fiscal_code", Message: fmt.Sprintf("repeats line %d", prev)})
				} else {
					seen[row.FiscalCode] = row.Line
				}
			}
			if len(problems) > 0 {
				invalid++
				for _, p := range problems {
					rowErrs = appendErr(rowErrs, p)
				}
				continue
			}
			if !yield(row) {
				return
			}
		}
	}
	if _, err := s.store.StageRows(ctx, im.ID, rows, nil); err != nil {
		_ = s.store.FinishImport(context.WithoutCancel(ctx), im.ID, "staging failed")
		return Import{}, err
	}
	if readErr != nil {
		_ = s.store.FinishImport(context.WithoutCancel(ctx), im.ID, readErr.Error())
		return Import{}, readErr
	}
	if _, err := s.store.StageRows(ctx, im.ID, nil, rowErrs); err != nil {
		return Import{}, err
	}
	if err := s.store.SetImportTotals(ctx, im.ID, total, invalid); err != nil {
		return Import{}, err
	}
	im.RowsTotal, im.RowsInvalid = total, invalid
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		s.apply(s.bg, sc, im, p.Name)
	}()
	return s.store.GetImport(ctx, sc.ambitoID, im.ID)
}

// importHeader maps the columns of an extract's header line to their index, refusing unknown
// columns and missing required ones.
func importHeader(header []string) (map[string]int, error) {
	col := map[string]int{}
	var f errs.Fields
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(ImportColumns, h) {
			f.Add("body", "unknown column %q (columns: %s)", h, strings.Join(ImportColumns, ", "))
		}
		col[h] = i
	}
	for _, req := range ImportColumns[:5] {
		if _, ok := col[req]; !ok {
			f.Add("body", "the column %s is required", req)
		}
	}
	return col, f.Err()
}

func appendErr(list []RowError, e RowError) []RowError {
	if len(list) >= maxStoredErrors {
		return list
	}
	return append(list, e)
}

// importRow validates one record.
func (s *Service) importRow(rec []string, col map[string]int, line int64) (ImportRow, []RowError) {
	get := func(name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var problems []RowError
	bad := func(field, format string, args ...any) {
		problems = append(problems, RowError{Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	row := ImportRow{Line: line, ID: newID(), FamilyName: get("family_name"), GivenName: get("given_name"),
		Sex: strings.ToUpper(get("sex")), Citizenship: strings.ToUpper(get("citizenship")), Address: get("address"),
		PostalCode: get("postal_code"), FamilyNumber: get("family_number"), Relationship: strings.ToLower(get("relationship"))}
	var f errs.Fields
	valid.Line(&f, "family_name", row.FamilyName, true, 100)
	valid.Line(&f, "given_name", row.GivenName, true, 100)
	valid.Line(&f, "address", row.Address, false, 200)
	valid.Line(&f, "family_number", row.FamilyNumber, false, 30)
	for _, e := range f {
		bad(e.Field, "%s", e.Message)
	}
	if row.Sex != "M" && row.Sex != "F" {
		bad("sex", "must be M or F")
	}
	var bf errs.Fields
	birth, _ := valid.Date(&bf, "birth_date", get("birth_date"), valid.Birth(s.now().In(s.cfg.Location)))
	row.BirthDate = birth
	for _, e := range bf {
		bad(e.Field, "%s", e.Message)
	}
	if row.Citizenship != "" && !countryCode.MatchString(row.Citizenship) {
		bad("citizenship", "must be an ISO 3166-1 alpha-2 country code")
	}
	if row.PostalCode != "" && !postalCode.MatchString(row.PostalCode) {
		bad("postal_code", "must be five digits")
	}
	if row.Relationship == "" {
		row.Relationship = "other_relative"
		if row.FamilyNumber == "" {
			row.Relationship = "head"
		}
	} else if !slices.Contains(relationships, row.Relationship) {
		bad("relationship", "%s", oneOf(relationships))
	}
	code, err := codicefiscale.Parse(get("fiscal_code"), s.places)
	if err != nil {
		bad("fiscal_code", "is not a valid codice fiscale: %v", err)
		return row, problems
	}
	row.FiscalCode, row.Canonical = code.Value, code.Canonical
	row.BirthPlace, row.BirthPlaceName, row.Foreign = code.Place.Belfiore, code.Place.Name, code.Foreign
	if bp := strings.ToUpper(get("birth_place")); bp != "" && len(problems) == 0 {
		if p, ok := s.places.ByBelfiore(bp, birth); ok {
			row.BirthPlace, row.BirthPlaceName = p.Belfiore, p.Name
		} else {
			bad("birth_place", "is not a Belfiore code in use on the birth date")
		}
	}
	if len(problems) == 0 {
		for _, m := range code.Matches(birth, codicefiscale.Sex(row.Sex[0]), row.BirthPlace) {
			bad(string(m), "does not agree with the codice fiscale")
		}
	}
	return row, problems
}

// apply runs the staged rows of an import, chunk by chunk, recording the progress.
func (s *Service) apply(ctx context.Context, sc scope, im Import, municipality string) {
	fail := func(err error) {
		s.log.Error("import failed", "import_id", im.ID, "err", err)
		_ = s.store.FinishImport(context.WithoutCancel(ctx), im.ID, "the import could not be applied; quote its id when reporting it")
	}
	last, err := s.store.MaxStagedLine(ctx, im.ID)
	if err != nil {
		fail(err)
		return
	}
	today := s.today()
	var processed int64
	for from := int64(0); from <= last; from += s.cfg.ImportChunk {
		to := from + s.cfg.ImportChunk - 1
		var res ChunkResult
		err := s.store.InTx(ctx, func(tx Store) error {
			var err error
			if res, err = tx.ApplyChunk(ctx, im, municipality, from, to, today); err != nil {
				return err
			}
			processed += res.Created + res.Updated + res.Unchanged
			return tx.ProgressImport(ctx, im.ID, processed, res)
		})
		if err != nil {
			fail(err)
			return
		}
		s.invalidate(ctx, im.AmbitoID, res.ChangedIDs, res.ChangedCodes...)
		s.log.Debug("import chunk applied", "import_id", im.ID, "from", from, "processed", processed)
	}
	if err := s.store.FinishImport(ctx, im.ID, ""); err != nil {
		fail(err)
		return
	}
	done, err := s.store.GetImport(ctx, im.AmbitoID, im.ID)
	if err != nil {
		fail(err)
		return
	}
	if err := s.audit.Write(ctx, audit.Record{ActorID: sc.claims.Subject, ActorOrg: sc.claims.OrgID, ActorRole: string(sc.claims.Role),
		AmbitoID: im.AmbitoID.String(), Action: "citizen.import", ResourceType: "import", ResourceID: im.ID.String(),
		Outcome: audit.OutcomeSuccess, Details: map[string]any{"istat_code": im.ISTATCode, "created": done.Created,
			"updated": done.Updated, "unchanged": done.Unchanged, "invalid": done.RowsInvalid}}); err != nil {
		s.log.Error("import audit record", "import_id", im.ID, "err", err)
	}
}

// GetImport returns an import job of the caller's ambito with its counts and row errors.
func (s *Service) GetImport(ctx context.Context, id uuid.UUID) (Import, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Import{}, err
	}
	im, err := s.store.GetImport(ctx, sc.ambitoID, id)
	if err != nil {
		return Import{}, err
	}
	if !sc.wide && im.ISTATCode != sc.istat {
		return Import{}, errs.E(errs.NotFound, "import not found")
	}
	return im, nil
}
