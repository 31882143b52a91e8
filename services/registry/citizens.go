package registry

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// CitizenInput creates a citizen. birth_place is given by its Belfiore code (derived from the
// codice fiscale when absent).
type CitizenInput struct {
	FiscalCode          string               `json:"fiscal_code,omitempty"`
	NoFiscalCodeReason  string               `json:"no_fiscal_code_reason,omitempty"`
	FamilyName          string               `json:"family_name"`
	GivenName           string               `json:"given_name"`
	Sex                 string               `json:"sex"`
	BirthDate           Date                 `json:"birth_date"`
	BirthPlace          *PlaceRef            `json:"birth_place,omitempty"`
	Citizenship         string               `json:"citizenship,omitempty"`
	MaritalStatus       string               `json:"marital_status,omitempty"`
	EducationLevel      string               `json:"education_level,omitempty"`
	Document            *Document            `json:"document,omitempty"`
	Residence           *Address             `json:"residence,omitempty"`
	Domicile            *Address             `json:"domicile,omitempty"`
	Phone               string               `json:"phone,omitempty"`
	Email               string               `json:"email,omitempty"`
	PreferredLanguage   string               `json:"preferred_language,omitempty"`
	LegalRepresentative *LegalRepresentative `json:"legal_representative,omitempty"`
	Privacy             *Privacy             `json:"privacy,omitempty"`
}

// PlaceRef names a birthplace by its Belfiore code.
type PlaceRef struct {
	Belfiore string `json:"belfiore_code"`
}

func (p *PlaceRef) place() *BirthPlace {
	if p == nil {
		return nil
	}
	return &BirthPlace{Belfiore: p.Belfiore}
}

// CreateResult is the answer to a create: the citizen and its likely duplicates.
type CreateResult struct {
	Citizen
	PossibleDuplicates []Match `json:"possible_duplicates"`
}

// MergedError answers a read of a merged record: it points to the surviving one.
type MergedError struct{ ID, MergedInto uuid.UUID }

func (e *MergedError) Error() string {
	return fmt.Sprintf("citizen %s was merged into %s", e.ID, e.MergedInto)
}

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
		return tx.AppendEvents(ctx, event(sc.ambitoID, "citizen.created", "citizen", c.ID, citizenEvent(c)))
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

// GetCitizen returns a citizen the caller may see, once the read is audited. A merged record
// answers with a MergedError pointing to the survivor.
func (s *Service) GetCitizen(ctx context.Context, id uuid.UUID, purpose string) (Citizen, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Citizen{}, err
	}
	if err := validPurpose(purpose); err != nil {
		return Citizen{}, err
	}
	c, err := s.load(ctx, sc.ambitoID, id)
	if err != nil {
		return Citizen{}, err
	}
	if !sc.sees(c) {
		if err := s.record(ctx, sc, "citizen.read", id, purpose, audit.OutcomeDenied, nil); err != nil {
			return Citizen{}, err
		}
		return Citizen{}, errs.E(errs.NotFound, "citizen not found")
	}
	if err := s.record(ctx, sc, "citizen.read", id, purpose, audit.OutcomeSuccess, nil); err != nil {
		return Citizen{}, err
	}
	if c.MergedInto != nil {
		return Citizen{}, &MergedError{ID: id, MergedInto: *c.MergedInto}
	}
	return c, nil
}

func validPurpose(p string) error {
	if len(p) > 200 || !valid.LineOK(p) {
		return errs.InvalidField("purpose", "must be at most 200 characters without control characters")
	}
	return nil
}

// CitizenPatch changes a citizen; absent or null fields stay. A new fiscal_code needs
// fiscal_code_reason (correction, omocodic_replacement, provisional_replaced); the former code
// stays in the history.
type CitizenPatch struct {
	FiscalCode          *string              `json:"fiscal_code,omitempty"`
	FiscalCodeReason    string               `json:"fiscal_code_reason,omitempty"`
	NoFiscalCodeReason  *string              `json:"no_fiscal_code_reason,omitempty"`
	FamilyName          *string              `json:"family_name,omitempty"`
	GivenName           *string              `json:"given_name,omitempty"`
	Sex                 *string              `json:"sex,omitempty"`
	BirthDate           *Date                `json:"birth_date,omitempty"`
	BirthPlace          *PlaceRef            `json:"birth_place,omitempty"`
	Citizenship         *string              `json:"citizenship,omitempty"`
	MaritalStatus       *string              `json:"marital_status,omitempty"`
	EducationLevel      *string              `json:"education_level,omitempty"`
	Document            *Document            `json:"document,omitempty"`
	Residence           *Address             `json:"residence,omitempty"`
	Domicile            *Address             `json:"domicile,omitempty"`
	Phone               *string              `json:"phone,omitempty"`
	Email               *string              `json:"email,omitempty"`
	PreferredLanguage   *string              `json:"preferred_language,omitempty"`
	Status              *string              `json:"status,omitempty"`
	DeathDate           *Date                `json:"death_date,omitempty"`
	MovedOn             *Date                `json:"moved_on,omitempty"`
	LegalRepresentative *LegalRepresentative `json:"legal_representative,omitempty"`
	Privacy             *Privacy             `json:"privacy,omitempty"`
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func (p CitizenPatch) apply(c *Citizen) {
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
		return tx.AppendEvents(ctx, event(sc.ambitoID, "citizen.updated", "citizen", id, citizenEvent(out)))
	})
	if err != nil {
		return Citizen{}, err
	}
	s.invalidate(ctx, sc.ambitoID, []uuid.UUID{id}, oldCode, out.FiscalCode)
	return out, s.record(ctx, sc, "citizen.update", id, "", audit.OutcomeSuccess, nil)
}

// SearchQuery looks citizens up by exact codice fiscale, by name (accent- and case-insensitive,
// typos tolerated), by birth date, or by a combination.
type SearchQuery struct {
	FiscalCode string `json:"fiscal_code,omitempty"`
	Name       string `json:"name,omitempty"`
	BirthDate  Date   `json:"birth_date,omitempty"`
	Purpose    string `json:"purpose,omitempty"`
	Limit      int    `json:"limit,omitempty"`
	Cursor     string `json:"cursor,omitempty"`
}

// Search returns the matching citizens the caller may see, best first. A comune's operators
// find the residents of their comune, and anyone else only by exact codice fiscale with a
// stated purpose. Every citizen returned is audited.
func (s *Service) Search(ctx context.Context, q SearchQuery) (Page[Hit], error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Page[Hit]{}, err
	}
	var f errs.Fields
	q.FiscalCode = strings.ToUpper(strings.TrimSpace(q.FiscalCode))
	q.Name = strings.TrimSpace(q.Name)
	canonical := q.FiscalCode
	if q.FiscalCode != "" {
		if len(q.FiscalCode) != 11 && len(q.FiscalCode) != 16 {
			f.Add("fiscal_code", "must be a codice fiscale of 16 characters or a provisional code of 11 digits")
		} else if len(q.FiscalCode) == 16 {
			canonical = canonicalOf(q.FiscalCode)
		}
	}
	if q.Name != "" {
		valid.Line(&f, "name", q.Name, false, 200)
		f.Check(len([]rune(q.Name)) >= 2, "name", "must have at least 2 characters")
	}
	if q.BirthDate != "" {
		valid.Date(&f, "birth_date", q.BirthDate, valid.Birth(s.now().In(s.cfg.Location)))
	}
	if q.FiscalCode == "" && q.Name == "" && q.BirthDate == "" {
		f.Add("body", "give at least one of fiscal_code, name, birth_date")
	}
	if q.Limit == 0 {
		q.Limit = 20
	}
	f.Check(q.Limit >= 1 && q.Limit <= 100, "limit", "must be from 1 to 100")
	if err := validPurpose(q.Purpose); err != nil {
		return Page[Hit]{}, err
	}
	cursors := cursor.For("citizens:search", q.FiscalCode, q.Name, q.BirthDate, q.Purpose)
	cur, err := cursors.Decode(q.Cursor)
	if err != nil {
		return Page[Hit]{}, err
	}
	offset := 0
	if cur != "" {
		if offset, err = strconv.Atoi(cur); err != nil || offset < 0 || offset > 10_000 {
			f.Add("cursor", "is not a cursor returned by this search")
		}
	}
	if err := f.Err(); err != nil {
		return Page[Hit]{}, err
	}
	residence := ""
	if !sc.wide {
		residence = sc.istat
		if residence == "" {
			residence = "-" // matches no comune
		}
		if q.FiscalCode != "" && q.Name == "" && q.BirthDate == "" && q.Purpose != "" {
			residence = "" // anyone by exact code, with a stated purpose
		}
	}
	var hits []Hit
	if q.FiscalCode != "" && q.Name == "" && q.BirthDate == "" {
		hits, err = s.byCode(ctx, sc, q.FiscalCode, canonical, residence)
		if offset > 0 {
			hits = nil
		}
	} else {
		hits, err = s.store.Search(ctx, SearchFilter{AmbitoID: sc.ambitoID, FiscalCode: q.FiscalCode, Canonical: canonical, Name: q.Name,
			BirthDate: q.BirthDate, Residence: residence, Limit: q.Limit + 1, Offset: offset})
	}
	if err != nil {
		return Page[Hit]{}, err
	}
	p := Page[Hit]{Items: hits}
	if len(hits) > q.Limit {
		p.Items = hits[:q.Limit]
		p.NextCursor = cursors.Encode(strconv.Itoa(offset + q.Limit))
	}
	if p.Items == nil {
		p.Items = []Hit{}
	}
	recs := make([]audit.Record, 0, len(p.Items))
	for _, h := range p.Items {
		recs = append(recs, auditRecord(sc, "citizen.search", h.ID.String(), q.Purpose, audit.OutcomeSuccess, nil))
	}
	if len(recs) > 0 {
		if err := s.audit.Write(ctx, recs...); err != nil {
			return Page[Hit]{}, err
		}
	}
	return p, nil
}

// byCode finds the live citizens with a code (exact, or sharing its canonical form: omocodic
// variants), through the cache.
func (s *Service) byCode(ctx context.Context, sc scope, code, canonical, residence string) ([]Hit, error) {
	ids, err := cacheIDs(ctx, s, sc.ambitoID, canonical)
	if err != nil {
		return nil, err
	}
	var hits []Hit
	for _, id := range ids {
		c, err := s.load(ctx, sc.ambitoID, id)
		if errs.Is(err, errs.NotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if c.MergedInto != nil || residence != "" && (c.Residence == nil || c.Residence.ISTATCode != residence) {
			continue
		}
		score := 0.9
		if c.FiscalCode == code {
			score = 1
		}
		hits = append(hits, Hit{Citizen: c, Score: score})
	}
	slices.SortStableFunc(hits, func(a, b Hit) int {
		if a.Score != b.Score {
			if a.Score > b.Score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID.String(), b.ID.String())
	})
	return hits, nil
}

// ListResidents lists the residents of a comune by name. A comune's operators list their own
// comune; the others name it.
func (s *Service) ListResidents(ctx context.Context, istat string, limit int, after string) (Page[Citizen], error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Page[Citizen]{}, err
	}
	if !sc.wide {
		if istat != "" && istat != sc.istat || sc.istat == "" {
			return Page[Citizen]{}, errs.E(errs.Forbidden, "a comune's operators list the residents of their own comune")
		}
		istat = sc.istat
	}
	if istat == "" {
		return Page[Citizen]{}, errs.InvalidField("residence_istat", "is required")
	}
	if _, ok := s.places.ByISTAT(istat); !ok {
		return Page[Citizen]{}, errs.InvalidField("residence_istat", "is not the ISTAT code of a current comune")
	}
	cursors := cursor.For("citizens", istat)
	cur, err := cursors.Decode(after)
	if err != nil {
		return Page[Citizen]{}, err
	}
	f := ListFilter{AmbitoID: sc.ambitoID, Residence: istat, Limit: limit + 1}
	if cur != "" {
		parts := strings.Split(cur, "\x00")
		id, err := uuid.Parse(parts[len(parts)-1])
		if len(parts) != 3 || err != nil {
			return Page[Citizen]{}, errs.InvalidField("cursor", "is not a cursor returned by this list")
		}
		f.After = &NameCursor{FamilyName: parts[0], GivenName: parts[1], ID: id}
	}
	items, err := s.store.ListResidents(ctx, f)
	if err != nil {
		return Page[Citizen]{}, err
	}
	p := Page[Citizen]{Items: items}
	if len(items) > limit {
		p.Items = items[:limit]
		last := items[limit-1]
		p.NextCursor = cursors.Encode(last.FamilyName + "\x00" + last.GivenName + "\x00" + last.ID.String())
	}
	recs := make([]audit.Record, 0, len(p.Items))
	for _, c := range p.Items {
		recs = append(recs, auditRecord(sc, "citizen.list", c.ID.String(), "", audit.OutcomeSuccess, nil))
	}
	if len(recs) > 0 {
		if err := s.audit.Write(ctx, recs...); err != nil {
			return Page[Citizen]{}, err
		}
	}
	return p, nil
}

// MergeInput names the record merged into the one of the path.
type MergeInput struct {
	OtherID uuid.UUID `json:"other_id"`
	Reason  string    `json:"reason,omitempty"`
}

// Merge merges other into the survivor id: the other record stays, pointing to the survivor,
// with its own history; the survivor lists it in merged_from and takes its codice fiscale when
// it had none.
func (s *Service) Merge(ctx context.Context, id uuid.UUID, in MergeInput) (Citizen, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Citizen{}, err
	}
	var f errs.Fields
	f.Check(in.OtherID != uuid.Nil, "other_id", "is required")
	f.Check(in.OtherID != id, "other_id", "must be another citizen")
	valid.Text(&f, "reason", in.Reason, false, 500)
	if err := f.Err(); err != nil {
		return Citizen{}, err
	}
	var out, other Citizen
	err = s.store.InTx(ctx, func(tx Store) error {
		first, second := id, in.OtherID
		if second.String() < first.String() {
			first, second = second, first
		}
		a, err := tx.GetCitizen(ctx, sc.ambitoID, first, true)
		if err != nil {
			return err
		}
		b, err := tx.GetCitizen(ctx, sc.ambitoID, second, true)
		if err != nil {
			return err
		}
		survivor := a
		other = b
		if a.ID != id {
			survivor, other = b, a
		}
		if !sc.sees(survivor) || !sc.sees(other) {
			return errs.E(errs.NotFound, "citizen not found")
		}
		if survivor.MergedInto != nil || other.MergedInto != nil {
			return errs.E(errs.FailedPrecondition, "a merged record cannot be merged again")
		}
		if survivor.FiscalCode != "" && other.FiscalCode != "" && survivor.FiscalCodeCanonical != other.FiscalCodeCanonical {
			return errs.InvalidField("other_id", "has another codice fiscale: correct one of them first")
		}
		if err := tx.MarkMerged(ctx, sc.ambitoID, other.ID, survivor.ID); err != nil {
			return err
		}
		// The merged record leaves its household; the survivor takes its place unless it has one.
		hid, err := tx.TakeOverMembership(ctx, sc.ambitoID, other.ID, survivor.ID, newID(), s.today())
		if err != nil {
			return err
		}
		if hid != nil {
			if err := tx.AppendEvents(ctx, event(sc.ambitoID, "household.changed", "household", *hid,
				map[string]any{"household_id": *hid, "citizen_id": other.ID, "merged_into": survivor.ID})); err != nil {
				return err
			}
		}
		reason := ""
		if survivor.FiscalCode == "" && other.FiscalCode != "" {
			survivor.FiscalCode, survivor.FiscalCodeCanonical, survivor.NoFiscalCodeReason, reason = other.FiscalCode, other.FiscalCodeCanonical, "", "merge"
		}
		survivor.MergedFrom = append(survivor.MergedFrom, other.ID)
		if out, err = tx.UpdateCitizen(ctx, survivor, survivor.Version, reason); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, event(sc.ambitoID, "citizen.merged", "citizen", survivor.ID,
			map[string]any{"survivor_id": survivor.ID, "merged_id": other.ID}))
	})
	if err != nil {
		return Citizen{}, err
	}
	s.invalidate(ctx, sc.ambitoID, []uuid.UUID{id, in.OtherID}, out.FiscalCode, other.FiscalCode)
	details := map[string]any{"survivor_id": id.String(), "merged_id": in.OtherID.String(), "reason": in.Reason}
	return out, s.audit.Write(ctx,
		auditRecord(sc, "citizen.merge", id.String(), "", audit.OutcomeSuccess, details),
		auditRecord(sc, "citizen.merge", in.OtherID.String(), "", audit.OutcomeSuccess, details))
}

// visible loads a live citizen the caller may see.
func (s *Service) visible(ctx context.Context, sc scope, id uuid.UUID) (Citizen, error) {
	c, err := s.load(ctx, sc.ambitoID, id)
	if err != nil {
		return Citizen{}, err
	}
	if !sc.sees(c) {
		return Citizen{}, errs.E(errs.NotFound, "citizen not found")
	}
	if c.MergedInto != nil {
		return Citizen{}, &MergedError{ID: id, MergedInto: *c.MergedInto}
	}
	return c, nil
}

// GetHousehold returns the household of a citizen the caller may see.
func (s *Service) GetHousehold(ctx context.Context, id uuid.UUID) (Household, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Household{}, err
	}
	if _, err := s.visible(ctx, sc, id); err != nil {
		return Household{}, err
	}
	h, err := s.store.GetHousehold(ctx, sc.ambitoID, id)
	if err != nil {
		return Household{}, err
	}
	return h, s.record(ctx, sc, "household.read", id, "", audit.OutcomeSuccess, nil)
}

// MemberInput adds a citizen to another's household.
type MemberInput struct {
	CitizenID    uuid.UUID `json:"citizen_id"`
	Relationship string    `json:"relationship"`
	ValidFrom    Date      `json:"valid_from,omitempty"`
}

// ErrAlreadyMember is adding a citizen to the household they belong to.
var ErrAlreadyMember = errs.E(errs.Conflict, "the citizen is already a member of this household")

// AddMember puts a citizen in the household of the citizen of the path.
func (s *Service) AddMember(ctx context.Context, id uuid.UUID, in MemberInput) (Household, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Household{}, err
	}
	var f errs.Fields
	f.Check(in.CitizenID != uuid.Nil && in.CitizenID != id, "citizen_id", "must be another citizen")
	f.Check(slices.Contains(relationships, in.Relationship) && in.Relationship != "head", "relationship", "%s (but head)", oneOf(relationships))
	if in.ValidFrom == "" {
		in.ValidFrom = s.today()
	} else {
		valid.Date(&f, "valid_from", in.ValidFrom, valid.Life) // a household or guardianship can predate the suite
	}
	if err := f.Err(); err != nil {
		return Household{}, err
	}
	if _, err := s.visible(ctx, sc, id); err != nil {
		return Household{}, err
	}
	if _, err := s.visible(ctx, sc, in.CitizenID); err != nil {
		if errs.Is(err, errs.NotFound) {
			return Household{}, errs.InvalidField("citizen_id", "is not a citizen you can see")
		}
		if m, ok := errors.AsType[*MergedError](err); ok {
			return Household{}, errs.InvalidField("citizen_id", "was merged into %s: add that one", m.MergedInto)
		}
		return Household{}, err
	}
	err = s.store.InTx(ctx, func(tx Store) error {
		hid, err := tx.AddMember(ctx, sc.ambitoID, id, in.CitizenID, in.Relationship, in.ValidFrom)
		if err != nil {
			return err
		}
		return tx.AppendEvents(ctx, event(sc.ambitoID, "household.changed", "household", hid,
			map[string]any{"household_id": hid, "citizen_id": in.CitizenID, "joined": true}))
	})
	if err != nil {
		return Household{}, err
	}
	if err := s.record(ctx, sc, "household.change", id, "", audit.OutcomeSuccess, map[string]any{"member_id": in.CitizenID.String()}); err != nil {
		return Household{}, err
	}
	return s.store.GetHousehold(ctx, sc.ambitoID, id)
}

// Pseudonym is a citizen's pseudonym for one purpose.
type Pseudonym struct {
	Purpose   string `json:"purpose"`
	Pseudonym string `json:"pseudonym"`
}

// Purposes lists the configured pseudonym purposes.
func (s *Service) Purposes() []string {
	out := make([]string, 0, len(s.cfg.PseudonymKeys))
	for p := range s.cfg.PseudonymKeys {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// PseudonymOf computes HMAC-SHA256(key of purpose, citizen id): stable within a purpose,
// unlinkable across purposes, irreversible without the key.
func PseudonymOf(key []byte, id uuid.UUID) string {
	m := hmac.New(sha256.New, key)
	m.Write(id[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// GetPseudonym returns the pseudonym of a citizen for a purpose (service clients with
// pseudonyms:read). A merged record answers with its survivor's pseudonym.
func (s *Service) GetPseudonym(ctx context.Context, id uuid.UUID, purpose string) (Pseudonym, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Pseudonym{}, err
	}
	key, ok := s.cfg.PseudonymKeys[purpose]
	if !ok {
		return Pseudonym{}, errs.InvalidField("purpose", "%s", oneOf(s.Purposes()))
	}
	c, err := s.load(ctx, sc.ambitoID, id)
	for i := 0; err == nil && c.MergedInto != nil && i < 10; i++ {
		c, err = s.load(ctx, sc.ambitoID, *c.MergedInto)
	}
	if err != nil {
		return Pseudonym{}, err
	}
	if err := s.record(ctx, sc, "citizen.pseudonym", c.ID, purpose, audit.OutcomeSuccess, nil); err != nil {
		return Pseudonym{}, err
	}
	return Pseudonym{Purpose: purpose, Pseudonym: PseudonymOf(key, c.ID)}, nil
}

// AuditQuery pages a citizen's audit trail.
type AuditQuery struct {
	CitizenID uuid.UUID
	Limit     int
	Cursor    string
}

// AuditTrail returns who read or changed a citizen's record, newest first (the privacy officer).
func (s *Service) AuditTrail(ctx context.Context, q AuditQuery) (Page[audit.Record], error) {
	c, err := auth.Caller(ctx)
	if err != nil {
		return Page[audit.Record]{}, err
	}
	ambitoID, err := uuid.Parse(c.AmbitoID)
	if err != nil {
		return Page[audit.Record]{}, errs.E(errs.Forbidden, "this token is not bound to an ambito")
	}
	// A citizen of another ambito (or none) is a 404, as everywhere else, not an empty trail.
	if _, err := s.store.GetCitizen(ctx, ambitoID, q.CitizenID, false); err != nil {
		return Page[audit.Record]{}, err
	}
	items, next, err := s.audit.List(ctx, audit.Filter{AmbitoID: c.AmbitoID, CitizenID: q.CitizenID.String(), Limit: q.Limit, Cursor: q.Cursor})
	if err != nil {
		return Page[audit.Record]{}, err
	}
	if items == nil {
		items = []audit.Record{}
	}
	err = s.audit.Write(ctx, audit.Record{ActorID: c.Subject, ActorOrg: c.OrgID, ActorRole: string(c.Role), AmbitoID: c.AmbitoID,
		Action: "audit.read", ResourceType: "audit", ResourceID: q.CitizenID.String(), Outcome: audit.OutcomeSuccess})
	return Page[audit.Record]{Items: items, NextCursor: next}, err
}

// Municipality is a place for pickers.
type Municipality struct {
	Belfiore  string `json:"belfiore_code"`
	ISTATCode string `json:"istat_code,omitempty"`
	Name      string `json:"name"`
	Province  string `json:"province,omitempty"`
	Kind      string `json:"kind"`
	ValidFrom Date   `json:"valid_from"`
	ValidTo   *Date  `json:"valid_to,omitempty"`
}

// Municipalities searches the reference places by name: current comuni by default, foreign
// countries with kind=country, and codes no longer in use with all=true.
func (s *Service) Municipalities(q, kind string, all bool, limit int) (Page[Municipality], error) {
	var f errs.Fields
	f.Check(len([]rune(strings.TrimSpace(q))) >= 1 && len(q) <= 100, "q", "must be 1 to 100 characters")
	f.Check(kind == "" || kind == string(places.Municipality) || kind == string(places.Country), "kind", "must be municipality or country")
	if err := f.Err(); err != nil {
		return Page[Municipality]{}, err
	}
	if kind == "" {
		kind = string(places.Municipality)
	}
	out := []Municipality{}
	for _, p := range s.places.Search(q, places.Kind(kind), !all, limit) {
		m := Municipality{Belfiore: p.Belfiore, ISTATCode: p.ISTAT, Name: p.Name, Province: p.Province, Kind: string(p.Kind),
			ValidFrom: p.ValidFrom.Format(time.DateOnly)}
		if !p.Current() {
			to := p.ValidTo.Format(time.DateOnly)
			m.ValidTo = &to
		}
		out = append(out, m)
	}
	return Page[Municipality]{Items: out}, nil
}
