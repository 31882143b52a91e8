package identity

import (
	"context"
	"strings"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// Bootstrap is the first ambito and its administrator, created from configuration on the first
// start (and by csictl).
type Bootstrap struct {
	AmbitoCode, AmbitoName    string
	AziendaName               string
	AdminEmail, AdminPassword string
	AdminFiscalCode           string
	AdminGivenName            string
	AdminFamilyName           string
}

// BootstrapResult names what exists after a bootstrap.
type BootstrapResult struct {
	Ambito  Ambito
	Azienda Organization
	Admin   Operator
	Created bool // false: the ambito existed already and nothing was changed
}

// EnsureBootstrap creates the ambito, its azienda consortile and the first ambito
// administrator when no ambito with that code exists; otherwise it changes nothing.
func (s *Service) EnsureBootstrap(ctx context.Context, b Bootstrap) (BootstrapResult, error) {
	var f errs.Fields
	valid.Line(&f, "ambito_code", b.AmbitoCode, true, 40)
	valid.Line(&f, "ambito_name", b.AmbitoName, true, 200)
	valid.Email(&f, "admin_email", b.AdminEmail, true)
	if err := f.Err(); err != nil {
		return BootstrapResult{}, err
	}
	if existing, err := s.store.AmbitoByCode(ctx, b.AmbitoCode); err == nil {
		return BootstrapResult{Ambito: existing}, nil
	} else if !errs.Is(err, errs.NotFound) {
		return BootstrapResult{}, err
	}
	if b.AziendaName == "" {
		b.AziendaName = "Azienda consortile " + b.AmbitoName
	}
	in := OperatorInput{FiscalCode: b.AdminFiscalCode, GivenName: b.AdminGivenName, FamilyName: b.AdminFamilyName,
		Email: b.AdminEmail, Password: b.AdminPassword, Profiles: []ProfileInput{{Role: auth.RoleAmbitoAdmin, ValidFrom: s.today()}}}
	if fe := s.validateOperator(&in); len(fe) > 0 {
		return BootstrapResult{}, fe.Err()
	}
	now := s.now()
	res := BootstrapResult{Created: true}
	res.Ambito = Ambito{ID: newID(), Code: strings.TrimSpace(b.AmbitoCode), Name: strings.TrimSpace(b.AmbitoName), CreatedAt: now}
	res.Azienda = Organization{ID: newID(), AmbitoID: res.Ambito.ID, Kind: OrgAzienda, Name: b.AziendaName, Active: true,
		Version: 1, CreatedAt: now, UpdatedAt: now}
	in.Profiles[0].OrganizationID = res.Azienda.ID
	system := auth.Claims{Subject: "bootstrap", Kind: auth.KindOperator, Role: auth.RoleAmbitoAdmin,
		AmbitoID: res.Ambito.ID.String(), OrgID: res.Azienda.ID.String()}
	err := s.store.InTx(ctx, func(tx Store) error {
		if err := tx.CreateAmbito(ctx, res.Ambito); err != nil {
			return err
		}
		if err := tx.CreateOrganization(ctx, res.Azienda); err != nil {
			return err
		}
		op, err := s.createOperator(ctx, tx, system, res.Ambito.ID, in, "admin_")
		res.Admin = op
		return err
	})
	if err != nil {
		return BootstrapResult{}, err
	}
	return res, s.record(ctx, system, "ambito.bootstrap", "ambito", res.Ambito.ID.String(), map[string]any{"admin": res.Admin.ID.String()})
}
