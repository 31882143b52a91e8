package identity

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// ImportColumns are the columns of an operator import, in any order; role and organization_id
// may be left out when the request gives defaults, valid_from defaults to today.
var ImportColumns = []string{"fiscal_code", "given_name", "family_name", "email", "phone", "role", "organization_id", "valid_from", "valid_to"}

// MaxImportRows bounds one import.
const MaxImportRows = 5000

// ImportOperators creates operators from CSV (a cooperative onboarding its educators at once).
// Every row is checked first; one bad row refuses the whole file with an error per row
// ("rows[3].email"), and nothing is written. Rows are numbered as the lines of the file.
func (s *Service) ImportOperators(ctx context.Context, r io.Reader, def ImportDefaults) (ImportReport, error) {
	c, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return ImportReport{}, err
	}
	if !mayManageOperators(c) {
		return ImportReport{}, errs.E(errs.Forbidden, "your profile may not manage operators")
	}
	if c.Role == auth.RoleCoopCoordinator && def.OrganizationID == nil {
		own, _ := uuid.Parse(c.OrgID)
		def.OrganizationID = &own
	}
	inputs, lines, fields := s.parseImport(r, def)
	rowName := func(i int) string { return "rows[" + strconv.Itoa(lines[i]) + "]." }
	if len(fields) > 0 {
		return ImportReport{}, fields.Err()
	}
	// Duplicates inside the file.
	seen := map[string]int{}
	for i, in := range inputs {
		for _, k := range []string{"email:" + strings.ToLower(in.Email), "fiscal_code:" + in.FiscalCode} {
			if j, dup := seen[k]; dup {
				name, _, _ := strings.Cut(k, ":")
				fields.Add(rowName(i)+name, "repeats row %d", lines[j])
			}
			seen[k] = i
		}
	}
	if len(fields) > 0 {
		return ImportReport{}, fields.Err()
	}
	var created []Operator
	err = s.store.InTx(ctx, func(tx Store) error {
		var rowErrs errs.Fields
		for i, in := range inputs {
			op, err := s.createOperator(ctx, tx, c, ambitoID, in, rowName(i))
			var e *errs.Error
			if errors.As(err, &e) && (e.Kind == errs.Invalid || e.Kind == errs.Conflict || e.Kind == errs.Forbidden) {
				if len(e.Fields) == 0 {
					rowErrs.Add(rowName(i)+"row", "%s", e.Message)
				}
				rowErrs = append(rowErrs, e.Fields...)
				if e.Kind == errs.Conflict {
					// The transaction is aborted after a constraint violation: stop here.
					return rowErrs.Err()
				}
				continue
			}
			if err != nil {
				return err
			}
			created = append(created, op)
		}
		return rowErrs.Err()
	})
	if err != nil {
		return ImportReport{}, err
	}
	if err := s.record(ctx, c, "operator.import", "operator", "", map[string]any{"imported": len(created)}); err != nil {
		return ImportReport{}, err
	}
	return ImportReport{Imported: len(created), Operators: created}, nil
}

// parseImport reads the rows, with the line of the file each starts on.
func (s *Service) parseImport(r io.Reader, def ImportDefaults) ([]OperatorInput, []int, errs.Fields) {
	var f errs.Fields
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		f.Add("body", "is not a CSV file with a header line")
		return nil, nil, f
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		known := false
		for _, k := range ImportColumns {
			known = known || k == h
		}
		if !known {
			f.Add("header", "unknown column %q", h)
			continue
		}
		col[h] = i
	}
	for _, need := range []string{"fiscal_code", "given_name", "family_name", "email"} {
		if _, ok := col[need]; !ok {
			f.Add("header", "column %q is missing", need)
		}
	}
	if _, ok := col["role"]; !ok && def.Role == "" {
		f.Add("header", "column \"role\" is missing and no default role was given")
	}
	if _, ok := col["organization_id"]; !ok && def.OrganizationID == nil {
		f.Add("header", "column \"organization_id\" is missing and no default organization was given")
	}
	if len(f) > 0 {
		return nil, nil, f
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	today := s.today()
	var out []OperatorInput
	var lines []int
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			line := 0
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			f.Add("rows["+strconv.Itoa(line)+"].row", "is not valid CSV")
			break
		}
		line, _ := cr.FieldPos(0)
		rowName := "rows[" + strconv.Itoa(line) + "]."
		if len(out) >= MaxImportRows {
			f.Add("body", "has more than %d rows; split the file", MaxImportRows)
			break
		}
		p := ProfileInput{Role: auth.Role(get(rec, "role")), ValidFrom: get(rec, "valid_from")}
		if p.Role == "" {
			p.Role = def.Role
		}
		if p.ValidFrom == "" {
			p.ValidFrom = today
		}
		if v := get(rec, "valid_to"); v != "" {
			p.ValidTo = &v
		}
		if v := get(rec, "organization_id"); v != "" {
			p.OrganizationID, _ = valid.ID(&f, rowName+"organization_id", v)
		} else if def.OrganizationID != nil {
			p.OrganizationID = *def.OrganizationID
		}
		in := OperatorInput{FiscalCode: get(rec, "fiscal_code"), GivenName: get(rec, "given_name"), FamilyName: get(rec, "family_name"),
			Email: get(rec, "email"), Phone: get(rec, "phone"), Profiles: []ProfileInput{p}}
		f = append(f, s.validateOperator(&in).Prefix(rowName)...)
		out = append(out, in)
		lines = append(lines, line)
	}
	if len(out) == 0 && len(f) == 0 {
		f.Add("body", "has no rows")
	}
	return out, lines, f
}
