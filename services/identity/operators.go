package identity

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// coopRoles are the roles a cooperative coordinator may assign, in their own cooperative.
var coopRoles = []auth.Role{auth.RoleCoopCoordinator, auth.RoleEducator, auth.RoleASA, auth.RoleOSS}

// mayManageOperators: ambito administrators in their ambito, coordinators in their cooperative.
func mayManageOperators(c auth.Claims) bool {
	return c.IsOperator() && (c.Role == auth.RoleAmbitoAdmin || c.Role == auth.RoleCoopCoordinator)
}

// checkManages reports whether the caller may manage op: an ambito administrator manages every
// operator of the ambito; a coordinator only those whose every profile is in their cooperative.
func checkManages(c auth.Claims, ambitoID uuid.UUID, op Operator) error {
	if op.AmbitoID != ambitoID {
		return errs.E(errs.NotFound, "operator not found")
	}
	switch c.Role {
	case auth.RoleAmbitoAdmin:
		return nil
	case auth.RoleCoopCoordinator:
		if len(op.Profiles) == 0 {
			return errs.E(errs.Forbidden, "a coordinator manages only the operators of their own cooperative")
		}
		for _, p := range op.Profiles {
			if p.OrganizationID.String() != c.OrgID {
				return errs.E(errs.Forbidden, "a coordinator manages only the operators of their own cooperative")
			}
		}
		return nil
	}
	return errs.E(errs.Forbidden, "your profile may not manage operators")
}

// checkProfile validates a profile and whether the caller may assign it.
func (s *Service) checkProfile(ctx context.Context, tx Store, c auth.Claims, ambitoID uuid.UUID, field string, in ProfileInput) (Profile, error) {
	var f errs.Fields
	f.Check(in.OrganizationID != uuid.Nil, field+"organization_id", "is required")
	f.Check(slices.Contains(auth.Roles, in.Role), field+"role", "is not a role")
	valid.Date(&f, field+"valid_from", in.ValidFrom, valid.Suite)
	if in.ValidTo != nil {
		valid.Date(&f, field+"valid_to", *in.ValidTo, valid.Suite)
		f.Check(*in.ValidTo >= in.ValidFrom, field+"valid_to", "must not be before valid_from")
	}
	if err := f.Err(); err != nil {
		return Profile{}, err
	}
	org, err := tx.GetOrganization(ctx, ambitoID, in.OrganizationID)
	if errs.Is(err, errs.NotFound) {
		return Profile{}, errs.InvalidField(field+"organization_id", "is not an organization of this ambito")
	}
	if err != nil {
		return Profile{}, err
	}
	if !slices.Contains(rolesByOrgKind[org.Kind], in.Role) {
		return Profile{}, errs.InvalidField(field+"role", "cannot be held in a %s", org.Kind)
	}
	if c.Role == auth.RoleCoopCoordinator && (org.ID.String() != c.OrgID || !slices.Contains(coopRoles, in.Role)) {
		return Profile{}, errs.E(errs.Forbidden, "a coordinator assigns only cooperative roles in their own cooperative")
	}
	return Profile{ID: newID(), OrganizationID: org.ID, OrganizationName: org.Name, OrganizationKind: org.Kind, OrganizationISTAT: org.ISTATCode,
		Role: in.Role, ValidFrom: in.ValidFrom, ValidTo: in.ValidTo}, nil
}

func (s *Service) validateOperator(in *OperatorInput) errs.Fields {
	var f errs.Fields
	in.FiscalCode = strings.ToUpper(strings.TrimSpace(in.FiscalCode))
	in.Email = strings.TrimSpace(in.Email)
	in.GivenName, in.FamilyName = strings.TrimSpace(in.GivenName), strings.TrimSpace(in.FamilyName)
	if in.FiscalCode == "" {
		f.Add("fiscal_code", "is required")
	} else if _, err := codicefiscale.Parse(in.FiscalCode, s.places); err != nil {
		f.Add("fiscal_code", "is not a valid codice fiscale: %v", err)
	}
	valid.Line(&f, "given_name", in.GivenName, true, 100)
	valid.Line(&f, "family_name", in.FamilyName, true, 100)
	valid.Email(&f, "email", in.Email, true)
	valid.Line(&f, "phone", in.Phone, false, 30)
	if len(in.Profiles) == 0 {
		f.Add("profiles", "at least one profile is required")
	}
	if in.Password != "" {
		if err := CheckPasswordPolicy("password", in.Password, in.GivenName, in.FamilyName, strings.Split(in.Email, "@")[0], in.FiscalCode); err != nil {
			f = append(f, err.(*errs.Error).Fields...)
		}
	}
	return f
}

// CreateOperator creates an operator with profiles (ambito administrators; coordinators for
// their own cooperative).
func (s *Service) CreateOperator(ctx context.Context, in OperatorInput) (Operator, error) {
	c, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return Operator{}, err
	}
	if !mayManageOperators(c) {
		return Operator{}, errs.E(errs.Forbidden, "your profile may not manage operators")
	}
	if f := s.validateOperator(&in); len(f) > 0 {
		return Operator{}, f.Err()
	}
	var op Operator
	err = s.store.InTx(ctx, func(tx Store) error {
		var err error
		op, err = s.createOperator(ctx, tx, c, ambitoID, in, "")
		return err
	})
	if err != nil {
		return Operator{}, err
	}
	return op, s.record(ctx, c, "operator.create", "operator", op.ID.String(), map[string]any{"profiles": len(op.Profiles)})
}

// createOperator validates profiles, hashes the password and stores, in tx. prefix names the
// row in an import ("rows[3].").
func (s *Service) createOperator(ctx context.Context, tx Store, c auth.Claims, ambitoID uuid.UUID, in OperatorInput, prefix string) (Operator, error) {
	now := s.now()
	op := Operator{ID: newID(), AmbitoID: ambitoID, FiscalCode: in.FiscalCode, GivenName: in.GivenName, FamilyName: in.FamilyName,
		Email: in.Email, Phone: in.Phone, Status: StatusActive, Version: 1, CreatedAt: now, UpdatedAt: now}
	for i, pin := range in.Profiles {
		p, err := s.checkProfile(ctx, tx, c, ambitoID, prefix+"profiles["+strconv.Itoa(i)+"].", pin)
		if err != nil {
			return Operator{}, err
		}
		op.Profiles = append(op.Profiles, p)
	}
	if in.Password != "" {
		h, err := HashPassword(in.Password)
		if err != nil {
			return Operator{}, err
		}
		op.passwordHash, op.PasswordSet = h, true
	}
	if err := tx.CreateOperator(ctx, op); err != nil {
		if errs.Is(err, errs.Conflict) {
			return Operator{}, &errs.Error{Kind: errs.Conflict, Message: "an operator with this e-mail or codice fiscale already exists",
				Fields: []errs.FieldError{{Field: prefix + "email", Message: "or fiscal_code already in use"}}}
		}
		return Operator{}, err
	}
	return op, tx.AppendEvents(ctx, events.Of(ambitoID, "operator.created", "operator", op.ID, op))
}

// GetOperator returns an operator the caller manages, or the caller themself.
func (s *Service) GetOperator(ctx context.Context, id uuid.UUID) (Operator, error) {
	c, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return Operator{}, err
	}
	op, err := s.store.GetOperator(ctx, ambitoID, id)
	if err != nil {
		return Operator{}, err
	}
	if c.Kind == auth.KindClient {
		// A machine client of the ambito with operators:read (the endpoint checked the scope).
		if !c.HasScope(ScopeOperatorsRead) || op.AmbitoID != ambitoID {
			return Operator{}, errs.E(errs.Forbidden, "a machine client reads operators with the scope %s", ScopeOperatorsRead)
		}
		return op, nil
	}
	if c.Subject != id.String() {
		if err := checkManages(c, ambitoID, op); err != nil {
			return Operator{}, err
		}
	}
	return op, nil
}

// Me returns the caller's own operator record with every profile.
func (s *Service) Me(ctx context.Context) (Operator, error) {
	c, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return Operator{}, err
	}
	if !c.IsOperator() {
		return Operator{}, errs.E(errs.Forbidden, "machine clients have no operator record")
	}
	id, err := uuid.Parse(c.Subject)
	if err != nil {
		return Operator{}, errs.E(errs.Unauthenticated, "bad subject")
	}
	return s.store.GetOperator(ctx, ambitoID, id)
}

// UpdateOperator changes an operator at the expected version. Disabling revokes their sessions.
func (s *Service) UpdateOperator(ctx context.Context, id uuid.UUID, version int64, p OperatorPatch) (Operator, error) {
	c, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return Operator{}, err
	}
	var f errs.Fields
	if p.GivenName != nil {
		valid.Line(&f, "given_name", *p.GivenName, true, 100)
	}
	if p.FamilyName != nil {
		valid.Line(&f, "family_name", *p.FamilyName, true, 100)
	}
	if p.Email != nil {
		valid.Email(&f, "email", *p.Email, true)
	}
	if p.Phone != nil {
		valid.Line(&f, "phone", *p.Phone, false, 30)
	}
	if p.Status != nil && *p.Status != StatusActive && *p.Status != StatusDisabled {
		f.Add("status", "must be active or disabled")
	}
	if err := f.Err(); err != nil {
		return Operator{}, err
	}
	var out Operator
	err = s.store.InTx(ctx, func(tx Store) error {
		op, err := tx.GetOperator(ctx, ambitoID, id)
		if err != nil {
			return err
		}
		if err := checkManages(c, ambitoID, op); err != nil {
			return err
		}
		if p.GivenName != nil {
			op.GivenName = strings.TrimSpace(*p.GivenName)
		}
		if p.FamilyName != nil {
			op.FamilyName = strings.TrimSpace(*p.FamilyName)
		}
		if p.Email != nil {
			op.Email = *p.Email
		}
		if p.Phone != nil {
			op.Phone = *p.Phone
		}
		if p.Status != nil {
			op.Status = *p.Status
			if op.Status == StatusDisabled {
				if err := tx.RevokeOperatorTokens(ctx, op.ID, s.now()); err != nil {
					return err
				}
			}
		}
		if out, err = tx.UpdateOperator(ctx, op, version); err != nil {
			if errs.Is(err, errs.Conflict) {
				return errs.InvalidField("email", "is already in use")
			}
			return err
		}
		return tx.AppendEvents(ctx, events.Of(ambitoID, "operator.updated", "operator", op.ID, out))
	})
	if err != nil {
		return Operator{}, err
	}
	return out, s.record(ctx, c, "operator.update", "operator", id.String(), nil)
}

// ListOperators lists the operators the caller manages.
func (s *Service) ListOperators(ctx context.Context, q OperatorQuery) (cursor.Page[Operator], error) {
	c, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return cursor.Page[Operator]{}, err
	}
	if !mayManageOperators(c) {
		return cursor.Page[Operator]{}, errs.E(errs.Forbidden, "your profile may not manage operators")
	}
	if c.Role == auth.RoleCoopCoordinator {
		own, _ := uuid.Parse(c.OrgID)
		if q.OrganizationID != nil && *q.OrganizationID != own {
			return cursor.Page[Operator]{}, errs.E(errs.Forbidden, "a coordinator sees only the operators of their own cooperative")
		}
		q.OrganizationID = &own
	}
	f := OperatorFilter{AmbitoID: ambitoID, OrganizationID: q.OrganizationID, Query: strings.TrimSpace(q.Query), Limit: q.Limit + 1,
		OnlyThere: c.Role == auth.RoleCoopCoordinator}
	org := ""
	if f.OrganizationID != nil {
		org = f.OrganizationID.String()
	}
	cur := cursor.For("operators", org, f.Query, strconv.FormatBool(f.OnlyThere))
	if f.After, err = cur.DecodeName(q.Cursor); err != nil {
		return cursor.Page[Operator]{}, err
	}
	items, err := s.store.ListOperators(ctx, f)
	if err != nil {
		return cursor.Page[Operator]{}, err
	}
	return cursor.PageOf(items, q.Limit, cur, func(o Operator) string { return cursor.NamePosition(o.FamilyName, o.GivenName, o.ID) }), nil
}

// AddProfile gives an operator a further role.
func (s *Service) AddProfile(ctx context.Context, operatorID uuid.UUID, in ProfileInput) (Operator, error) {
	return s.changeProfiles(ctx, operatorID, "operator.profile_add", map[string]any{"role": in.Role},
		func(tx Store, c auth.Claims, ambitoID uuid.UUID) (string, any, error) {
			p, err := s.checkProfile(ctx, tx, c, ambitoID, "", in)
			if err != nil {
				return "", nil, err
			}
			return "operator.profile_added", p, tx.AddProfile(ctx, operatorID, p)
		})
}

// EndProfile ends a profile today (profiles keep their history; they are never deleted).
func (s *Service) EndProfile(ctx context.Context, operatorID, profileID uuid.UUID) (Operator, error) {
	return s.changeProfiles(ctx, operatorID, "operator.profile_end", map[string]any{"profile_id": profileID.String()},
		func(tx Store, _ auth.Claims, _ uuid.UUID) (string, any, error) {
			return "operator.profile_ended", map[string]string{"profile_id": profileID.String()},
				tx.EndProfile(ctx, operatorID, profileID, s.today())
		})
}

// changeProfiles runs change on an operator the caller manages, in a transaction with its event,
// and audits it.
func (s *Service) changeProfiles(ctx context.Context, operatorID uuid.UUID, action string, details map[string]any,
	change func(tx Store, c auth.Claims, ambitoID uuid.UUID) (eventType string, payload any, err error)) (Operator, error) {
	c, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return Operator{}, err
	}
	if !mayManageOperators(c) {
		return Operator{}, errs.E(errs.Forbidden, "your profile may not manage operators")
	}
	var out Operator
	err = s.store.InTx(ctx, func(tx Store) error {
		op, err := tx.GetOperator(ctx, ambitoID, operatorID)
		if err != nil {
			return err
		}
		if err := checkManages(c, ambitoID, op); err != nil {
			return err
		}
		typ, payload, err := change(tx, c, ambitoID)
		if err != nil {
			return err
		}
		if out, err = tx.GetOperator(ctx, ambitoID, operatorID); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, events.Of(ambitoID, typ, "operator", op.ID, payload))
	})
	if err != nil {
		return Operator{}, err
	}
	return out, s.record(ctx, c, action, "operator", operatorID.String(), details)
}

// SetPassword sets an operator's password: the operator themself with the current one
// (reset false), or whoever manages them (reset true; not for oneself). All their sessions end.
func (s *Service) SetPassword(ctx context.Context, operatorID uuid.UUID, current, next string, reset bool) error {
	c, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return err
	}
	self := c.Subject == operatorID.String()
	if reset && self {
		return errs.InvalidField("id", "is yourself: change your own password with POST /v1/me/password")
	}
	if !reset && !self {
		return errs.E(errs.Forbidden, "only the operator changes their own password this way")
	}
	if !self && !mayManageOperators(c) {
		return errs.E(errs.Forbidden, "your profile may not manage operators")
	}
	op, err := s.store.GetOperator(ctx, ambitoID, operatorID)
	if err != nil {
		return err
	}
	if self {
		if op.passwordHash == "" || !VerifyPassword(op.passwordHash, current) {
			return errs.InvalidField("current_password", "is not your current password")
		}
	} else if err := checkManages(c, ambitoID, op); err != nil {
		return err
	}
	if err := CheckPasswordPolicy("new_password", next, op.GivenName, op.FamilyName, strings.Split(op.Email, "@")[0], op.FiscalCode); err != nil {
		return err
	}
	h, err := HashPassword(next)
	if err != nil {
		return err
	}
	err = s.store.InTx(ctx, func(tx Store) error {
		if err := tx.SetPassword(ctx, operatorID, h); err != nil {
			return err
		}
		return tx.RevokeOperatorTokens(ctx, operatorID, s.now())
	})
	if err != nil {
		return err
	}
	return s.record(ctx, c, "operator.password_set", "operator", operatorID.String(), map[string]any{"self": self})
}
