package registry

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/pkg/valid"
)

func existing(id uuid.UUID) error {
	e := errs.E(errs.Conflict, "a citizen with this fiscal_code exists already")
	e.Fields = []errs.FieldError{{Field: "fiscal_code", Message: "is the codice fiscale of another citizen"}}
	e.Extra = map[string]any{"existing_id": id.String()}
	return e
}

// CreateCitizen registers a citizen. A comune's operators register people resident in their
// comune, or without a residence. The same codice fiscale is refused (409 with existing_id);
// likely duplicates are reported in the answer.
func (s *Service) CreateCitizen(ctx context.Context, in CitizenInput) (CreateResult, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return CreateResult{}, err
	}
	now := s.now()
	c := Citizen{ID: newID(), AmbitoID: sc.ambitoID, FiscalCode: in.FiscalCode, NoFiscalCodeReason: in.NoFiscalCodeReason,
		FamilyName: in.FamilyName, GivenName: in.GivenName, Sex: in.Sex, BirthDate: in.BirthDate, BirthPlace: in.BirthPlace.place(),
		Citizenship: in.Citizenship, MaritalStatus: in.MaritalStatus, EducationLevel: in.EducationLevel, Document: in.Document,
		Residence: in.Residence, Domicile: in.Domicile, Phone: in.Phone, Email: in.Email, PreferredLanguage: in.PreferredLanguage,
		Status: StatusAlive, LegalRepresentative: in.LegalRepresentative, Version: 1, CreatedAt: now, UpdatedAt: now}
	if in.Privacy != nil {
		c.Privacy = *in.Privacy
	}
	if err := s.validate(&c); err != nil {
		return CreateResult{}, err
	}
	if !sc.wide && c.Residence != nil && c.Residence.ISTATCode != sc.istat {
		return CreateResult{}, errs.E(errs.Forbidden, "a comune's operators register residents of their own comune (or people without a residence)")
	}
	if c.FiscalCode != "" {
		c.FiscalCodeHistory = []FiscalCodeChange{{FiscalCode: c.FiscalCode, Reason: "assigned", AssignedAt: now}}
	}
	var res CreateResult
	err = s.store.InTx(ctx, func(tx Store) error {
		if c.FiscalCode != "" {
			if id, err := tx.CitizenIDByFiscalCode(ctx, sc.ambitoID, c.FiscalCode); err == nil {
				return existing(id)
			} else if !errs.Is(err, errs.NotFound) {
				return err
			}
		}
		dups, err := tx.LikelyDuplicates(ctx, c)
		if err != nil {
			return err
		}
		if err := tx.CreateCitizen(ctx, c, "assigned"); err != nil {
			return err
		}
		res = CreateResult{Citizen: c, PossibleDuplicates: dups}
		return tx.AppendEvents(ctx, events.Of(sc.ambitoID, "citizen.created", "citizen", c.ID, citizenEvent(c)))
	})
	if errs.Is(err, errs.Conflict) && c.FiscalCode != "" && errs.KindOf(err) == errs.Conflict {
		// Lost a race with another create of the same code.
		if id, e := s.store.CitizenIDByFiscalCode(ctx, sc.ambitoID, c.FiscalCode); e == nil {
			err = existing(id)
		}
	}
	if err != nil {
		return CreateResult{}, err
	}
	s.invalidate(ctx, sc.ambitoID, nil, c.FiscalCode)
	return res, s.record(ctx, sc, "citizen.create", c.ID, "", audit.OutcomeSuccess, nil)
}

// GetCitizen returns a citizen the caller may see, as the API serves it, once the read is
// audited. A merged record answers with a MergedError pointing to the survivor.
func (s *Service) GetCitizen(ctx context.Context, id uuid.UUID, purpose string) (CitizenJSON, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return CitizenJSON{}, err
	}
	if err := validPurpose(purpose); err != nil {
		return CitizenJSON{}, err
	}
	c, err := s.load(ctx, sc.ambitoID, id)
	if err != nil {
		return CitizenJSON{}, err
	}
	if !sc.seesResident(c.ISTAT) {
		if err := s.record(ctx, sc, "citizen.read", id, purpose, audit.OutcomeDenied, nil); err != nil {
			return CitizenJSON{}, err
		}
		return CitizenJSON{}, errs.E(errs.NotFound, "citizen not found")
	}
	if err := s.record(ctx, sc, "citizen.read", id, purpose, audit.OutcomeSuccess, nil); err != nil {
		return CitizenJSON{}, err
	}
	if c.MergedInto != nil {
		return CitizenJSON{}, &MergedError{ID: id, MergedInto: *c.MergedInto}
	}
	return c, nil
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func (p CitizenPatch) apply(c *Citizen) {
	status, moved := c.Status, c.MovedOn
	defer func() {
		// The status is now the operator's: what an extract had set no longer stands.
		if c.Status != status || (c.MovedOn == nil) != (moved == nil) || c.MovedOn != nil && *c.MovedOn != *moved {
			c.StatusSource = nil
		}
	}()
	set(&c.FiscalCode, p.FiscalCode)
	set(&c.NoFiscalCodeReason, p.NoFiscalCodeReason)
	set(&c.FamilyName, p.FamilyName)
	set(&c.GivenName, p.GivenName)
	set(&c.Sex, p.Sex)
	set(&c.BirthDate, p.BirthDate)
	if p.BirthPlace != nil {
		c.BirthPlace = p.BirthPlace.place()
	}
	set(&c.Citizenship, p.Citizenship)
	set(&c.MaritalStatus, p.MaritalStatus)
	set(&c.EducationLevel, p.EducationLevel)
	if p.Document != nil {
		c.Document = p.Document
	}
	if p.Residence != nil {
		c.Residence = p.Residence
	}
	if p.Domicile != nil {
		c.Domicile = p.Domicile
	}
	set(&c.Phone, p.Phone)
	set(&c.Email, p.Email)
	set(&c.PreferredLanguage, p.PreferredLanguage)
	set(&c.Status, p.Status)
	if p.DeathDate != nil {
		c.DeathDate = p.DeathDate
	}
	if p.MovedOn != nil {
		c.MovedOn = p.MovedOn
	}
	if p.LegalRepresentative != nil {
		c.LegalRepresentative = p.LegalRepresentative
	}
	if p.Privacy != nil {
		c.Privacy = *p.Privacy
	}
}

// UpdateCitizen changes a citizen the caller may see, at the expected version.
func (s *Service) UpdateCitizen(ctx context.Context, id uuid.UUID, version int64, p CitizenPatch) (Citizen, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Citizen{}, err
	}
	var out Citizen
	var oldCode string
	err = s.store.InTx(ctx, func(tx Store) error {
		c, err := tx.GetCitizen(ctx, sc.ambitoID, id, true)
		if err != nil {
			return err
		}
		if !sc.sees(c) {
			return errs.E(errs.NotFound, "citizen not found")
		}
		if c.MergedInto != nil {
			return errs.E(errs.FailedPrecondition, "this record was merged into %s: change that one", c.MergedInto)
		}
		oldCode = c.FiscalCode
		p.apply(&c)
		if p.BirthPlace == nil && c.BirthPlace != nil && (p.FiscalCode != nil || p.BirthDate != nil) {
			c.BirthPlace = &BirthPlace{Belfiore: c.BirthPlace.Belfiore}
		}
		if err := s.validate(&c); err != nil {
			return err
		}
		reason := ""
		if c.FiscalCode != oldCode {
			if c.FiscalCode == "" {
				return errs.InvalidField("fiscal_code", "cannot be removed; correct it instead")
			}
			reason = p.FiscalCodeReason
			if oldCode == "" && reason == "" {
				reason = "assigned"
			}
			if oldCode != "" && !slices.Contains(codeReasons, reason) {
				return errs.InvalidField("fiscal_code_reason", "is required when the fiscal_code changes and %s", oneOf(codeReasons))
			}
			if other, err := tx.CitizenIDByFiscalCode(ctx, sc.ambitoID, c.FiscalCode); err == nil && other != id {
				return existing(other)
			}
			c.NoFiscalCodeReason = ""
		}
		if out, err = tx.UpdateCitizen(ctx, c, version, reason); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, events.Of(sc.ambitoID, "citizen.updated", "citizen", id, citizenEvent(out)))
	})
	if err != nil {
		return Citizen{}, err
	}
	s.invalidate(ctx, sc.ambitoID, []uuid.UUID{id}, oldCode, out.FiscalCode)
	return out, s.record(ctx, sc, "citizen.update", id, "", audit.OutcomeSuccess, nil)
}

// ListResidents lists the residents of a comune by name. A comune's operators list their own
// comune; the others name it.
func (s *Service) ListResidents(ctx context.Context, istat string, limit int, afterCursor string) (cursor.Page[Citizen], error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return cursor.Page[Citizen]{}, err
	}
	if !sc.wide {
		if istat != "" && istat != sc.istat || sc.istat == "" {
			return cursor.Page[Citizen]{}, errs.E(errs.Forbidden, "a comune's operators list the residents of their own comune")
		}
		istat = sc.istat
	}
	if istat == "" {
		return cursor.Page[Citizen]{}, errs.InvalidField("residence_istat", "is required")
	}
	if _, ok := s.places.ByISTAT(istat); !ok {
		return cursor.Page[Citizen]{}, errs.InvalidField("residence_istat", "is not the ISTAT code of a current comune")
	}
	cursors := cursor.For("citizens", istat)
	after, err := cursors.DecodeName(afterCursor)
	if err != nil {
		return cursor.Page[Citizen]{}, err
	}
	items, err := s.store.ListResidents(ctx, ListFilter{AmbitoID: sc.ambitoID, Residence: istat, Limit: limit + 1, After: after})
	if err != nil {
		return cursor.Page[Citizen]{}, err
	}
	p := cursor.PageOf(items, limit, cursors, func(c Citizen) string { return cursor.NamePosition(c.FamilyName, c.GivenName, c.ID) })
	recs := make([]audit.Record, 0, len(p.Items))
	for _, c := range p.Items {
		recs = append(recs, auditRecord(sc, "citizen.list", c.ID.String(), "", audit.OutcomeSuccess, nil))
	}
	if len(recs) > 0 {
		if err := s.audit.Write(ctx, recs...); err != nil {
			return cursor.Page[Citizen]{}, err
		}
	}
	return p, nil
}

// validate checks a citizen as a whole and fills what derives from the codice fiscale and the
// reference data (canonical code, birthplace name). It is the one check for create and update.
func (s *Service) validate(c *Citizen) error {
	var f errs.Fields
	c.FamilyName, c.GivenName = strings.TrimSpace(c.FamilyName), strings.TrimSpace(c.GivenName)
	valid.Line(&f, "family_name", c.FamilyName, true, 100)
	valid.Line(&f, "given_name", c.GivenName, true, 100)
	f.Check(c.Sex == "M" || c.Sex == "F", "sex", "must be M or F")
	birth, birthOK := valid.Date(&f, "birth_date", c.BirthDate, valid.Birth(s.now().In(s.cfg.Location)))
	belfiore := ""
	if c.BirthPlace != nil {
		belfiore = strings.ToUpper(strings.TrimSpace(c.BirthPlace.Belfiore))
		c.BirthPlace = nil
	}
	if belfiore != "" && birthOK {
		if p, ok := s.places.ByBelfiore(belfiore, birth); ok {
			c.BirthPlace = &BirthPlace{Belfiore: p.Belfiore, Name: p.Name, Foreign: p.Kind == places.Country}
		} else if !s.places.BelfioreExists(belfiore) {
			f.Add("birth_place.belfiore_code", "is not a Belfiore code of a municipality or a country")
		} else {
			f.Add("birth_place.belfiore_code", "was not in use on the birth date")
		}
	}
	c.FiscalCode = strings.ToUpper(strings.TrimSpace(c.FiscalCode))
	c.FiscalCodeCanonical = ""
	switch {
	case c.FiscalCode == "":
		f.Check(slices.Contains(noCodeReasons, c.NoFiscalCodeReason), "no_fiscal_code_reason", "is required without a fiscal_code and %s", oneOf(noCodeReasons))
	case len(c.FiscalCode) == 11:
		// A provisional numeric code: its check digit is all there is to check.
		if err := codicefiscale.ValidateNumeric(c.FiscalCode); err != nil {
			f.Add("fiscal_code", "is not a valid provisional code: %v", err)
		}
		c.FiscalCodeCanonical = c.FiscalCode
	default:
		code, err := codicefiscale.Parse(c.FiscalCode, s.places)
		if err != nil {
			f.Add("fiscal_code", "is not a valid codice fiscale: %v", err)
			break
		}
		c.FiscalCodeCanonical = code.Canonical
		sex := codicefiscale.Sex(0)
		if c.Sex == "M" || c.Sex == "F" {
			sex = codicefiscale.Sex(c.Sex[0])
		}
		var b time.Time
		if birthOK {
			b = birth
		}
		for _, m := range code.Matches(b, sex, belfiore) {
			switch m {
			case codicefiscale.BirthDateMismatch:
				f.Add("birth_date", "does not agree with the codice fiscale (%s)", code.BirthDate.Format("02-01")+"-.."+strconv.Itoa(code.BirthDate.Year()%100))
			case codicefiscale.SexMismatch:
				f.Add("sex", "does not agree with the codice fiscale (%s)", code.Sex)
			case codicefiscale.BirthplaceMismatch:
				f.Add("birth_place.belfiore_code", "does not agree with the codice fiscale (%s)", code.Belfiore)
			}
		}
		if belfiore == "" && code.Place.Belfiore != "" {
			c.BirthPlace = &BirthPlace{Belfiore: code.Place.Belfiore, Name: code.Place.Name, Foreign: code.Foreign}
		}
	}
	if c.FiscalCode != "" && c.NoFiscalCodeReason != "" {
		f.Add("no_fiscal_code_reason", "applies only to people without a fiscal_code")
	}
	if c.Citizenship != "" && !countryCode.MatchString(c.Citizenship) {
		f.Add("citizenship", "must be an ISO 3166-1 alpha-2 country code (IT, MA, ...)")
	}
	if c.MaritalStatus != "" && !slices.Contains(maritalStatuses, c.MaritalStatus) {
		f.Add("marital_status", "%s", oneOf(maritalStatuses))
	}
	if c.EducationLevel != "" && !slices.Contains(educationLevels, c.EducationLevel) {
		f.Add("education_level", "%s", oneOf(educationLevels))
	}
	if d := c.Document; d != nil {
		f.Check(slices.Contains(documentTypes, d.Type), "document.type", "%s", oneOf(documentTypes))
		valid.Line(&f, "document.number", d.Number, true, 30)
		valid.Line(&f, "document.issued_by", d.IssuedBy, false, 200)
		valid.OptDate(&f, "document.expires_on", d.ExpiresOn, valid.Life)
	}
	s.address(&f, "residence", c.Residence)
	s.address(&f, "domicile", c.Domicile)
	valid.Line(&f, "phone", c.Phone, false, 30)
	valid.Email(&f, "email", c.Email, false)
	if c.PreferredLanguage != "" && !languageCode.MatchString(c.PreferredLanguage) {
		f.Add("preferred_language", "must be an ISO 639-1 language code (it, en, ar, ...)")
	}
	if c.Status == "" {
		c.Status = StatusAlive
	}
	f.Check(slices.Contains(statuses, c.Status), "status", "%s", oneOf(statuses))
	valid.OptDate(&f, "death_date", c.DeathDate, valid.Life)
	valid.OptDate(&f, "moved_on", c.MovedOn, valid.Life)
	f.Check(c.Status != StatusDeceased || c.DeathDate != nil, "death_date", "is required when the status is deceased")
	f.Check(c.Status == StatusDeceased || c.DeathDate == nil, "death_date", "applies only when the status is deceased")
	f.Check(c.Status != StatusMovedAway || c.MovedOn != nil, "moved_on", "is required when the status is moved_away")
	if r := c.LegalRepresentative; r != nil {
		f.Check(slices.Contains(representatives, r.Kind), "legal_representative.kind", "%s", oneOf(representatives))
		f.Check(r.CitizenID != nil || strings.TrimSpace(r.Name) != "", "legal_representative.name", "is required without a citizen_id")
		valid.Line(&f, "legal_representative.name", r.Name, false, 200)
		valid.Date(&f, "legal_representative.valid_from", r.ValidFrom, valid.Life)
		valid.OptDate(&f, "legal_representative.valid_to", r.ValidTo, valid.Life)
		f.Check(r.CitizenID == nil || *r.CitizenID != c.ID, "legal_representative.citizen_id", "must be another citizen")
	}
	valid.OptDate(&f, "privacy.notice_given_on", c.Privacy.NoticeGivenOn, valid.Suite)
	valid.Line(&f, "privacy.notice_given_by", c.Privacy.NoticeGivenBy, c.Privacy.NoticeGivenOn != nil, 200)
	if c.Privacy.Consents == nil {
		c.Privacy.Consents = []Consent{}
	}
	for i, k := range c.Privacy.Consents {
		p := "privacy.consents[" + strconv.Itoa(i) + "]."
		f.Check(slices.Contains(consentKinds, k.Kind), p+"kind", "%s", oneOf(consentKinds))
		valid.Date(&f, p+"given_on", k.GivenOn, valid.Suite)
		valid.OptDate(&f, p+"withdrawn_on", k.WithdrawnOn, valid.Suite)
		f.Check(k.WithdrawnOn == nil || *k.WithdrawnOn >= k.GivenOn, p+"withdrawn_on", "must not be before given_on")
	}
	return f.Err()
}

func (s *Service) address(f *errs.Fields, field string, a *Address) {
	if a == nil {
		return
	}
	if p, ok := s.places.ByISTAT(a.ISTATCode); ok {
		a.Municipality = p.Name
	} else {
		f.Add(field+".istat_code", "is not the ISTAT code of a current comune")
	}
	a.Address = strings.TrimSpace(a.Address)
	valid.Line(f, field+".address", a.Address, true, 200)
	if a.PostalCode != "" && !postalCode.MatchString(a.PostalCode) {
		f.Add(field+".postal_code", "must be five digits")
	}
}

// citizenEvent is the payload of citizen events: the id and the few fields statistics need;
// readers with citizens:read fetch the record.
func citizenEvent(c Citizen) map[string]any {
	m := map[string]any{"id": c.ID, "status": c.Status, "sex": c.Sex, "birth_year": c.BirthDate[:4]}
	if c.Residence != nil {
		m["residence_istat"] = c.Residence.ISTATCode
	}
	return m
}
