package registry

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
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
//
// A complete extract (complete) names every resident of the comune: before its rows are
// applied, the comune's live residents it does not name are marked moved away, on the day of
// the import and with the import as the status's source, never deleted. A complete extract is
// applied only whole: with a refused row it fails, nothing applied, its errors listed (a
// resident whose row was refused would otherwise be marked moved away). A partial extract
// changes nobody it does not name. A complete extract without rows is refused.
func (s *Service) StartImport(ctx context.Context, istat string, complete bool, body io.Reader) (Import, error) {
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
	im := Import{ID: newID(), AmbitoID: sc.ambitoID, ISTATCode: istat, Status: ImportProcessing, Complete: complete, CreatedAt: s.now(),
		CreatedBy: sc.claims.Subject, CreatedByOrg: sc.claims.OrgID, CreatedByRole: string(sc.claims.Role), Errors: []RowError{}}
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
	// The import and its staged rows appear together or not at all: a processing import always
	// has its rows staged (ResumeImports relies on it).
	err = s.store.InTx(ctx, func(tx Store) error {
		if err := tx.CreateImport(ctx, im); err != nil {
			return err
		}
		if _, err := tx.StageRows(ctx, im.ID, rows, nil); err != nil || readErr != nil {
			return cmp.Or(readErr, err)
		}
		if _, err := tx.StageRows(ctx, im.ID, nil, rowErrs); err != nil {
			return err
		}
		if err := tx.SetImportTotals(ctx, im.ID, total, invalid); err != nil {
			return err
		}
		if complete && total == 0 {
			// Applied, it would mark every resident of the comune moved away.
			return errs.InvalidField("complete", "a complete extract must name the comune's residents: this one has no rows")
		}
		if complete && invalid > 0 {
			_, err := tx.FinishImport(ctx, im.ID, importIncomplete)
			return err
		}
		return nil
	})
	if err != nil {
		return Import{}, err
	}
	if !complete || invalid == 0 {
		s.goApply(im, p.Name)
	}
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

// goApply applies the staged rows of an import in the background (Close stops it).
func (s *Service) goApply(im Import, municipality string) {
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		s.apply(s.bg, im, municipality)
	}()
}

// apply runs the staged rows of an import, chunk by chunk, each chunk with its progress in one
// transaction that also drops its staged rows: whatever stops it, the rows still staged are
// exactly those not yet applied. Stopped by ctx (the service closing), it leaves the import
// processing, to be resumed at the next start (ResumeImports).
func (s *Service) apply(ctx context.Context, im Import, municipality string) {
	stopped := func(err error) bool {
		if ctx.Err() != nil {
			s.log.Info("import paused: resumed at the next start", "import_id", im.ID)
			return true
		}
		s.log.Error("import failed", "import_id", im.ID, "err", err)
		_, _ = s.store.FinishImport(context.WithoutCancel(ctx), im.ID, "the import could not be applied; quote its id when reporting it")
		return true
	}
	last, err := s.store.MaxStagedLine(ctx, im.ID)
	if err != nil {
		stopped(err)
		return
	}
	today := s.today()
	// Where the time goes, logged at the end (make bench's import is read against it).
	began := time.Now()
	var chunks int
	var inChunks, inCache time.Duration
	if im.Complete && !im.AbsentMarked {
		// The residents the extract does not name, while all its rows are still staged; the day
		// is the import's, whenever it runs (a resumed import).
		var res ChunkResult
		done := false
		on := im.CreatedAt.In(s.cfg.Location).Format(time.DateOnly)
		err := s.store.InTx(ctx, func(tx Store) error {
			if status, err := tx.LockImport(ctx, im.ID); err != nil || status != ImportProcessing {
				done = true
				return err
			}
			var err error
			res, err = tx.MarkAbsent(ctx, im, on)
			return err
		})
		if err != nil && stopped(err) || done {
			return
		}
		s.invalidate(ctx, im.AmbitoID, res.ChangedIDs, res.ChangedCodes...)
	}
	for from := int64(0); from <= last; from += s.cfg.ImportChunk {
		var res ChunkResult
		done := false
		chunkStart := time.Now()
		err := s.store.InTx(ctx, func(tx Store) error {
			// Another worker of the import (a replica resuming it too) waits here for this chunk,
			// then finds its rows gone; one that ended the import stops this one.
			if status, err := tx.LockImport(ctx, im.ID); err != nil || status != ImportProcessing {
				done = true
				return err
			}
			var err error
			if res, err = tx.ApplyChunk(ctx, im, municipality, from, from+s.cfg.ImportChunk-1, today); err != nil {
				return err
			}
			return tx.ProgressImport(ctx, im.ID, res)
		})
		if err != nil && stopped(err) || done {
			return
		}
		t := time.Now()
		inChunks += t.Sub(chunkStart)
		s.invalidate(ctx, im.AmbitoID, res.ChangedIDs, res.ChangedCodes...)
		chunks++
		inCache += time.Since(t)
		s.log.Debug("import chunk applied", "import_id", im.ID, "from", from)
	}
	// The end is recorded even when the service is closing: the audit log closes after its jobs.
	ctx = context.WithoutCancel(ctx)
	finished, err := s.store.FinishImport(ctx, im.ID, "")
	if err != nil || !finished {
		if err != nil {
			stopped(err)
		}
		return
	}
	final, err := s.store.GetImport(ctx, im.AmbitoID, im.ID)
	if err != nil {
		s.log.Error("import audit record", "import_id", im.ID, "err", err)
		return
	}
	s.log.Info("import completed", "import_id", im.ID, "rows", final.RowsProcessed, "moved_away", final.MovedAway, "chunks", chunks,
		"apply_seconds", time.Since(began).Seconds(), "chunk_seconds", inChunks.Seconds(), "cache_invalidation_seconds", inCache.Seconds())
	r := audit.By(auth.Claims{Subject: im.CreatedBy, OrgID: im.CreatedByOrg, Role: auth.Role(im.CreatedByRole), AmbitoID: im.AmbitoID.String()},
		"citizen.import", "import", im.ID.String())
	r.Details = map[string]any{"istat_code": im.ISTATCode, "created": final.Created, "updated": final.Updated, "unchanged": final.Unchanged,
		"invalid": final.RowsInvalid, "complete": final.Complete, "moved_away": final.MovedAway}
	if err := s.audit.Write(ctx, r); err != nil {
		s.log.Error("import audit record", "import_id", im.ID, "err", err)
	}
}

// Why an interrupted import cannot be resumed.
const (
	importRowsLost   = "the import was interrupted and its staged rows were lost (the database restarted): import the file again"
	importGoneComune = "the import was interrupted and its comune is no longer current: import the file again"
	importIncomplete = "a complete extract is applied only whole: correct the refused rows (errors) and import the file again"
)

// ResumeImports takes up the imports found processing at start (the process stopped mid-import:
// a crash, a SIGTERM): one whose staged rows are all there (as many as its rows neither invalid
// nor processed yet) is resumed in the background, chunk by chunk from where it stopped; one
// whose rows are not (the staging table is unlogged: a database crash empties it) is marked
// failed, saying so. Mount calls it before serving.
func (s *Service) ResumeImports(ctx context.Context) error {
	ims, err := s.store.ProcessingImports(ctx)
	if err != nil {
		return err
	}
	for _, im := range ims {
		p, current := s.places.ByISTAT(im.ISTATCode)
		failure := ""
		switch {
		case im.Staged != im.RowsTotal-im.RowsInvalid-im.RowsProcessed:
			failure = importRowsLost
		case !current:
			failure = importGoneComune
		}
		if failure != "" {
			s.log.Warn("interrupted import failed", "import_id", im.ID, "reason", failure)
			if _, err := s.store.FinishImport(ctx, im.ID, failure); err != nil {
				return err
			}
			continue
		}
		s.log.Info("interrupted import resumed", "import_id", im.ID, "rows_left", im.Staged)
		s.goApply(im, p.Name)
	}
	return nil
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
