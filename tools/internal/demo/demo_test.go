package demo_test

import (
	"net/mail"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/tools/internal/demo"
)

func generate(t *testing.T, seed uint64) demo.Data {
	t.Helper()
	d, err := demo.Generate(seed, places.Default())
	if err != nil {
		t.Fatalf("Generate(%d): %v", seed, err)
	}
	return d
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := generate(t, demo.DefaultSeed), generate(t, demo.DefaultSeed)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("two generations with seed %d differ (-first +second):\n%s", demo.DefaultSeed, diff)
	}
	c := generate(t, demo.DefaultSeed+1)
	if cmp.Equal(a.Operators, c.Operators) {
		t.Errorf("seeds %d and %d gave the same operators", demo.DefaultSeed, demo.DefaultSeed+1)
	}
	// The documented sign-ins do not move with the seed (the partita IVA of their cooperative,
	// its key, does).
	if diff := cmp.Diff(a.DemoUsers, c.DemoUsers, cmpopts.IgnoreFields(demo.Person{}, "OrgKey")); diff != "" {
		t.Errorf("demo users depend on the seed (-%d +%d):\n%s", demo.DefaultSeed, demo.DefaultSeed+1, diff)
	}
}

func TestGenerateShape(t *testing.T) {
	for _, seed := range []uint64{demo.DefaultSeed, 1, 2, 3} {
		d := generate(t, seed)
		cat := places.Default()
		if got, want := len(d.Comuni), 8; got != want {
			t.Errorf("seed %d: %d comuni, want %d", seed, got, want)
		}
		province := ""
		for _, c := range d.Comuni {
			p, ok := cat.ByISTAT(c.ISTATCode)
			if !ok || p.Region != "Lombardia" {
				t.Errorf("seed %d: comune %s (%s) is not a current Lombard comune", seed, c.Name, c.ISTATCode)
			}
			if province == "" {
				province = p.Province
			}
			if p.Province != province {
				t.Errorf("seed %d: comune %s is in %s, the others in %s", seed, c.Name, p.Province, province)
			}
		}
		if got, want := len(d.Cooperatives), demo.NumCooperatives; got != want {
			t.Errorf("seed %d: %d cooperatives, want %d", seed, got, want)
		}
		covered := map[identity.ServiceType]int{}
		for _, c := range d.Cooperatives {
			if err := codicefiscale.ValidateNumeric(c.TaxCode); err != nil {
				t.Errorf("seed %d: partita IVA %s of %s: %v", seed, c.TaxCode, c.Name, err)
			}
			if len(c.Accreditations) == 0 {
				t.Errorf("seed %d: %s has no accreditation", seed, c.Name)
			}
			for _, a := range c.Accreditations {
				covered[a.ServiceType]++
				if a.HourlyTariffCents < 2000 || a.HourlyTariffCents > 2800 {
					t.Errorf("seed %d: %s %s tariff %d cents, want 2000..2800", seed, c.Name, a.ServiceType, a.HourlyTariffCents)
				}
			}
		}
		for _, st := range identity.ServiceTypes {
			if covered[st] < 3 {
				t.Errorf("seed %d: %s is accredited to %d cooperatives, want at least 3", seed, st, covered[st])
			}
		}
		byKind := map[identity.OrgKind]int{}
		for _, p := range d.Operators {
			o, ok := d.Org(p.OrgKey)
			if !ok {
				t.Fatalf("seed %d: operator %s has unknown organization %q", seed, p.Email, p.OrgKey)
			}
			byKind[o.Kind]++
		}
		want := map[identity.OrgKind]int{identity.OrgCooperativa: demo.CooperativeOperators,
			identity.OrgComune: demo.MunicipalOperators, identity.OrgAzienda: demo.PlanningStaff}
		if diff := cmp.Diff(byKind, want); diff != "" {
			t.Errorf("seed %d: operators by organization kind (-got +want):\n%s", seed, diff)
		}
	}
}

// TestGenerateValidData checks every field the identity service validates, with the
// service's own rules.
func TestGenerateValidData(t *testing.T) {
	d := generate(t, demo.DefaultSeed)
	cat := places.Default()
	people := slices.Clone(d.Operators)
	for _, u := range d.DemoUsers {
		people = append(people, u.Person)
	}
	codes, emails := map[string]string{}, map[string]string{}
	for _, p := range people {
		c, err := codicefiscale.Parse(p.FiscalCode, cat)
		if err != nil {
			t.Errorf("%s %s: codice fiscale %s: %v", p.GivenName, p.FamilyName, p.FiscalCode, err)
		} else if c.Omocodic {
			t.Errorf("%s: codice fiscale %s is omocodic", p.Email, p.FiscalCode)
		}
		if prev, dup := codes[p.FiscalCode]; dup {
			t.Errorf("codice fiscale %s of %s repeats %s", p.FiscalCode, p.Email, prev)
		}
		codes[p.FiscalCode] = p.Email
		key := strings.ToLower(p.Email)
		if prev, dup := emails[key]; dup {
			t.Errorf("e-mail %s repeats (%s)", p.Email, prev)
		}
		emails[key] = p.FiscalCode
		if a, err := mail.ParseAddress(p.Email); err != nil || a.Address != p.Email {
			t.Errorf("e-mail %q is not a plain address", p.Email)
		}
		if len(p.Phone) > 30 {
			t.Errorf("%s: phone %q is longer than 30", p.Email, p.Phone)
		}
		o, _ := d.Org(p.OrgKey)
		if !roleFits(p.Role, o.Kind) {
			t.Errorf("%s: role %s held in a %s", p.Email, p.Role, o.Kind)
		}
	}
}

// roleFits says which roles the identity service accepts in which kind of organization.
func roleFits(r auth.Role, k identity.OrgKind) bool {
	fits := map[identity.OrgKind][]auth.Role{
		identity.OrgComune:      {auth.RoleAmbitoAdmin, auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleAdministrative, auth.RolePrivacyOfficer},
		identity.OrgAzienda:     {auth.RoleAmbitoAdmin, auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleAdministrative, auth.RolePlanningOffice, auth.RolePrivacyOfficer},
		identity.OrgCooperativa: {auth.RoleCoopCoordinator, auth.RoleEducator, auth.RoleASA, auth.RoleOSS},
		identity.OrgATS:         {auth.RoleATSMonitor},
		identity.OrgRegion:      {auth.RoleRegionMonitor},
	}
	return slices.Contains(fits[k], r)
}

func TestDemoUsers(t *testing.T) {
	d := generate(t, demo.DefaultSeed)
	var roles []auth.Role
	for _, u := range d.DemoUsers {
		roles = append(roles, u.Role)
		if err := identity.CheckPasswordPolicy("password", u.Password, u.GivenName, u.FamilyName,
			strings.Split(u.Email, "@")[0], u.FiscalCode); err != nil {
			t.Errorf("demo password of %s: %v", u.Email, err)
		}
		if got, want := u.Email, demo.DemoEmail(u.Role); got != want {
			t.Errorf("demo user of %s has e-mail %s, want %s", u.Role, got, want)
		}
	}
	if diff := cmp.Diff(roles, auth.Roles); diff != "" {
		t.Errorf("demo users' roles (-got +want):\n%s", diff)
	}
	b := d.Bootstrap()
	if b.AdminEmail != demo.DemoEmail(auth.RoleAmbitoAdmin) || b.AmbitoCode != demo.AmbitoCode || b.AziendaName != d.Azienda.Name {
		t.Errorf("Bootstrap() = %+v, want the demo ambito administrator in %s", b, d.Azienda.Name)
	}
}
