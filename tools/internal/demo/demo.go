// Package demo generates the demo data of one ambito — comuni, the azienda consortile,
// cooperatives with their accreditations, ATS, the Region, a few hundred operators and one demo
// sign-in per role — deterministically from a seed, and loads it into a running identity
// service through its API (Seed).
package demo

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/tools/internal/synth"
)

// The demo ambito and its sign-ins.
const (
	AmbitoCode  = "ambito-demo"
	AmbitoName  = "Ambito Distrettuale Demo"
	AziendaName = "Azienda Speciale Consortile Demo - Ufficio di Piano"
	// EmailDomain is the domain of every demo e-mail address (.example is reserved: no mail
	// is ever delivered).
	EmailDomain = "demo.csi.example"
	// Password is the password of every demo sign-in. It satisfies the password policy and
	// contains none of the demo users' names.
	Password = "Csi-Demo-2468!"
	// DefaultSeed is the seed of the demo data that csidev loads.
	DefaultSeed uint64 = 20250101
	// ClientName names the demo machine client.
	ClientName = "Demo events reader"
	// FeedClientName names the demo population-register feed: the comuni's anagrafe systems
	// sending their extracts to the registry.
	FeedClientName = "Demo population register feed"
)

// IntakeClientName names the intake service's own machine client: intake checks citizens
// through the registry's API with its token (client credentials).
const IntakeClientName = "Intake service"

// IntakeClientScopes are the scopes of the intake service's client.
var IntakeClientScopes = []string{"citizens:read"}

// ServiceClient is the machine client a service of the suite needs to start: its own, for its
// calls to its peers (CSI_<SERVICE>_CLIENT_ID and _CLIENT_SECRET). It is not demo data.
type ServiceClient struct {
	Service string // the service's name in services/services.tsv
	Name    string // the client's name in identity
	Scopes  []string
}

// ServiceClients are the services that need a machine client to start, and their clients:
// intake checks citizens through the registry, interventions accreditations and operators
// through identity.
var ServiceClients = []ServiceClient{
	{Service: "intake", Name: IntakeClientName, Scopes: IntakeClientScopes},
	{Service: "interventions", Name: "Interventions service", Scopes: []string{"accreditations:read", "operators:read"}},
}

// FeedClientScopes are the scopes of the demo population-register feed.
var FeedClientScopes = []string{"citizens:read", "citizens:write"}

// ClientScopes are the scopes of the demo machine client.
var ClientScopes = []string{"events:read", "accreditations:read"}

// The sizes of the demo ambito (DOMAIN.md, "Scale").
const (
	NumCooperatives      = 20
	CooperativeOperators = 380
	MunicipalOperators   = 135
	PlanningStaff        = 8
)

// Org is an organization of the demo ambito.
type Org struct {
	// Key identifies the organization across runs: the ISTAT code of a comune, the partita
	// IVA of a cooperative, "azienda", "ats" or "region".
	Key       string
	Kind      identity.OrgKind
	Name      string
	ISTATCode string
	TaxCode   string
	// Domain is the e-mail domain of its staff.
	Domain string
}

// Input returns the request that creates the organization.
func (o Org) Input() identity.OrganizationInput {
	return identity.OrganizationInput{Kind: o.Kind, Name: o.Name, ISTATCode: o.ISTATCode, TaxCode: o.TaxCode}
}

// Accreditation accredits a cooperative for a service type.
type Accreditation struct {
	ServiceType       identity.ServiceType
	HourlyTariffCents int64
	ValidFrom         identity.Date
}

// Cooperative is a demo cooperative with its accreditations.
type Cooperative struct {
	Org
	Accreditations []Accreditation
}

// Person is a demo operator with one profile.
type Person struct {
	OrgKey     string
	Role       auth.Role
	FiscalCode string
	GivenName  string
	FamilyName string
	Email      string
	Phone      string
	ValidFrom  identity.Date
}

// DemoUser is the demo sign-in of a role.
type DemoUser struct {
	Person
	Password string
}

// Data is the whole demo ambito.
type Data struct {
	Seed         uint64
	Comuni       []Org
	Azienda      Org // created by the bootstrap, not by Seed
	Cooperatives []Cooperative
	ATS, Region  Org
	// Operators are the operators imported in bulk, grouped by organization.
	Operators []Person
	// DemoUsers has one sign-in per role, in the order of auth.Roles.
	DemoUsers []DemoUser
	// ComuneWorkers has a social worker sign-in of every comune, in the order of Comuni
	// (ComuneWorkerEmail).
	ComuneWorkers []DemoUser
}

// Orgs returns every organization, azienda included: the comuni, the azienda, the
// cooperatives, ATS and the Region.
func (d Data) Orgs() []Org {
	out := slices.Clone(d.Comuni)
	out = append(out, d.Azienda)
	for _, c := range d.Cooperatives {
		out = append(out, c.Org)
	}
	return append(out, d.ATS, d.Region)
}

// Org returns the organization with the key.
func (d Data) Org(key string) (Org, bool) {
	for _, o := range d.Orgs() {
		if o.Key == key {
			return o, true
		}
	}
	return Org{}, false
}

// DemoUser returns the demo sign-in of a role.
func (d Data) DemoUser(role auth.Role) (DemoUser, bool) {
	for _, u := range d.DemoUsers {
		if u.Role == role {
			return u, true
		}
	}
	return DemoUser{}, false
}

// Admin returns the demo ambito administrator, the one the bootstrap creates.
func (d Data) Admin() DemoUser {
	u, _ := d.DemoUser(auth.RoleAmbitoAdmin)
	return u
}

// Bootstrap returns the bootstrap that creates the demo ambito, its azienda and the demo
// administrator (CSI_BOOTSTRAP_... of the identity service, or identity bootstrap).
func (d Data) Bootstrap() identity.Bootstrap {
	a := d.Admin()
	return identity.Bootstrap{AmbitoCode: AmbitoCode, AmbitoName: AmbitoName, AziendaName: d.Azienda.Name,
		AdminEmail: a.Email, AdminPassword: a.Password, AdminFiscalCode: a.FiscalCode,
		AdminGivenName: a.GivenName, AdminFamilyName: a.FamilyName}
}

// demoUserSpec fixes a demo user: documented names, so the sign-ins do not move with the seed.
type demoUserSpec struct {
	role               auth.Role
	org                string // key, or "coop" for the first cooperative, "comune" for the first comune
	given, family      string
	sex                codicefiscale.Sex
	birth              string // YYYY-MM-DD
	birthISTAT, abroad string // ISTAT code of the comune of birth, or Belfiore code of the country
}

var demoUserSpecs = []demoUserSpec{
	{auth.RoleAmbitoAdmin, "azienda", "Paolo", "Brambilla", codicefiscale.Male, "1975-03-14", "015146", ""},
	{auth.RoleServiceManager, "comune", "Francesca", "Galli", codicefiscale.Female, "1970-06-02", "015182", ""},
	{auth.RoleSocialWorker, "comune", "Chiara", "Colombo", codicefiscale.Female, "1988-09-21", "015118", ""},
	{auth.RoleAdministrative, "comune", "Marco", "Villa", codicefiscale.Male, "1982-01-30", "015182", ""},
	{auth.RolePlanningOffice, "azienda", "Elena", "Ferrari", codicefiscale.Female, "1979-11-05", "017029", ""},
	{auth.RoleCoopCoordinator, "coop", "Luca", "Fontana", codicefiscale.Male, "1977-04-18", "016024", ""},
	{auth.RoleEducator, "coop", "Sara", "Rinaldi", codicefiscale.Female, "1992-07-09", "063049", ""},
	{auth.RoleASA, "coop", "Ioana", "Popescu", codicefiscale.Female, "1985-02-12", "", "Z129"},
	{auth.RoleOSS, "coop", "Giuseppe", "Russo", codicefiscale.Male, "1983-12-01", "082053", ""},
	{auth.RoleATSMonitor, "ats", "Alessandra", "Moretti", codicefiscale.Female, "1974-05-27", "108033", ""},
	{auth.RoleRegionMonitor, "region", "Stefano", "Marchetti", codicefiscale.Male, "1969-10-15", "013075", ""},
	{auth.RolePrivacyOfficer, "azienda", "Giovanna", "Barbieri", codicefiscale.Female, "1971-08-08", "012133", ""},
}

// DemoEmail returns the e-mail of the demo sign-in of a role: social.worker@demo.csi.example.
func DemoEmail(role auth.Role) string {
	return strings.ReplaceAll(string(role), "_", ".") + "@" + EmailDomain
}

// ComuneWorkerEmail is the e-mail of the demo social worker of comune c:
// social.worker.<comune>@demo.csi.example.
func ComuneWorkerEmail(c Org) string {
	return "social.worker." + slug(strings.TrimPrefix(c.Name, "Comune di "), "-") + "@" + EmailDomain
}

// gen holds the state of one generation.
type gen struct {
	rng    *rand.Rand
	cat    *places.Catalog
	codes  map[string]bool // fiscal codes used
	emails map[string]bool // e-mails used (lower case)
	taxes  map[string]bool // partite IVA used
}

// Generate builds the demo data from seed, with birthplaces from cat. The same seed and
// catalog give the same data.
func Generate(seed uint64, cat *places.Catalog) (Data, error) {
	g := &gen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), cat: cat,
		codes: map[string]bool{}, emails: map[string]bool{}, taxes: map[string]bool{}}
	d := Data{Seed: seed}
	comuni, err := synth.DemoComuni(cat)
	if err != nil {
		return Data{}, err
	}
	for _, c := range comuni {
		d.Comuni = append(d.Comuni, Org{Key: c.ISTAT, Kind: identity.OrgComune, Name: "Comune di " + c.Name,
			ISTATCode: c.ISTAT, Domain: "comune-" + slug(c.Name, "-") + "." + EmailDomain})
	}
	d.Azienda = Org{Key: "azienda", Kind: identity.OrgAzienda, Name: AziendaName, Domain: "azienda." + EmailDomain}
	d.ATS = Org{Key: "ats", Kind: identity.OrgATS, Name: "ATS della Città Metropolitana di Milano", Domain: "ats." + EmailDomain}
	d.Region = Org{Key: "region", Kind: identity.OrgRegion, Name: "Regione Lombardia", Domain: "regione." + EmailDomain}
	for i, name := range cooperativeNames {
		tax, err := g.partitaIVA()
		if err != nil {
			return Data{}, err
		}
		short := strings.TrimPrefix(name, "Cooperativa Sociale ")
		d.Cooperatives = append(d.Cooperatives, Cooperative{
			Org:            Org{Key: tax, Kind: identity.OrgCooperativa, Name: name, TaxCode: tax, Domain: slug(short, "") + "." + EmailDomain},
			Accreditations: g.accreditations(i),
		})
	}
	ensureCoverage(d.Cooperatives, 3)

	// Demo users first: their e-mails and codes are fixed.
	for _, s := range demoUserSpecs {
		u, err := g.demoUser(d, s)
		if err != nil {
			return Data{}, err
		}
		d.DemoUsers = append(d.DemoUsers, u)
	}

	// Municipal operators, by inhabitants.
	weights := make([]float64, len(comuni))
	for i, c := range comuni {
		weights[i] = float64(c.Inhabitants)
	}
	for i, n := range synth.Apportion(MunicipalOperators, weights) {
		org := d.Comuni[i]
		managers := 1
		if n >= 25 {
			managers = 2
		}
		social := (n*55 + 50) / 100
		if err := g.staff(&d, org, []roleCount{{auth.RoleServiceManager, managers}, {auth.RoleSocialWorker, social},
			{auth.RoleAdministrative, n - managers - social}}); err != nil {
			return Data{}, err
		}
	}
	// The Ufficio di Piano.
	if err := g.staff(&d, d.Azienda, []roleCount{{auth.RoleServiceManager, 1}, {auth.RolePlanningOffice, 5},
		{auth.RoleAdministrative, PlanningStaff - 6}}); err != nil {
		return Data{}, err
	}
	// Cooperative operators.
	weights = make([]float64, len(d.Cooperatives))
	for i := range weights {
		weights[i] = 0.6 + 0.8*g.rng.Float64()
	}
	for i, n := range synth.Apportion(CooperativeOperators, weights) {
		c := d.Cooperatives[i]
		coordinators := 1
		if n >= 20 {
			coordinators = 2
		}
		rest := n - coordinators
		home, edu := c.has("SAD", "SADH"), c.has("ADH", "ADM", "AES")
		educators := 0
		switch {
		case edu && home:
			educators = rest / 2
		case edu:
			educators = rest
		}
		asa := (rest - educators) * 55 / 100
		if err := g.staff(&d, c.Org, []roleCount{{auth.RoleCoopCoordinator, coordinators}, {auth.RoleEducator, educators},
			{auth.RoleASA, asa}, {auth.RoleOSS, rest - educators - asa}}); err != nil {
			return Data{}, err
		}
	}
	// A social worker sign-in in every comune (made last, so that the people above do not
	// change with them): the intake demo data is recorded by them, each in their comune.
	for _, c := range d.Comuni {
		p, err := g.person(c, auth.RoleSocialWorker)
		if err != nil {
			return Data{}, err
		}
		delete(g.emails, p.Email)
		p.Email = ComuneWorkerEmail(c)
		g.emails[p.Email] = true
		d.ComuneWorkers = append(d.ComuneWorkers, DemoUser{Person: p, Password: Password})
	}
	return d, nil
}

func (c Cooperative) has(types ...identity.ServiceType) bool {
	for _, a := range c.Accreditations {
		if slices.Contains(types, a.ServiceType) {
			return true
		}
	}
	return false
}

// accreditationsFrom is the start of every demo accreditation.
const accreditationsFrom = "2025-01-01"

// tariffs are the hourly tariffs in cents, from and to, of each service type.
var tariffs = map[identity.ServiceType][2]int64{
	"SAD": {2150, 2450}, "SADH": {2200, 2500}, "ADH": {2300, 2700}, "ADM": {2300, 2700}, "AES": {2300, 2700},
}

func (g *gen) tariff(st identity.ServiceType) int64 {
	r := tariffs[st]
	return r[0] + 5*g.rng.Int64N((r[1]-r[0])/5+1)
}

// accreditations gives cooperative i its service types: a third each of home-care, educational
// and mixed cooperatives, the first one mixed.
func (g *gen) accreditations(i int) []Accreditation {
	var types []identity.ServiceType
	switch i % 3 {
	case 0: // mixed
		types = []identity.ServiceType{"SAD", []identity.ServiceType{"ADM", "ADH"}[g.rng.IntN(2)]}
		if g.rng.IntN(10) < 4 {
			types = append(types, "SADH")
		}
		if g.rng.IntN(10) < 4 {
			types = append(types, "AES")
		}
	case 1: // home care
		types = []identity.ServiceType{"SAD"}
		if g.rng.IntN(10) < 7 {
			types = append(types, "SADH")
		}
	case 2: // education
		edu := []identity.ServiceType{"ADH", "ADM", "AES"}
		g.rng.Shuffle(len(edu), func(a, b int) { edu[a], edu[b] = edu[b], edu[a] })
		types = edu[:2+g.rng.IntN(2)]
	}
	out := make([]Accreditation, 0, len(types))
	for _, st := range identity.ServiceTypes {
		if slices.Contains(types, st) {
			out = append(out, Accreditation{ServiceType: st, HourlyTariffCents: g.tariff(st), ValidFrom: accreditationsFrom})
		}
	}
	return out
}

// ensureCoverage accredits further cooperatives until every service type has at least min,
// adding home-care types to home-care or mixed cooperatives and educational ones to
// educational or mixed ones. Tariffs of added accreditations are the middle of the range.
func ensureCoverage(coops []Cooperative, min int) {
	for _, st := range identity.ServiceTypes {
		n := 0
		for _, c := range coops {
			if c.has(st) {
				n++
			}
		}
		home := st == "SAD" || st == "SADH"
		for i := range coops {
			if n >= min {
				break
			}
			c := &coops[i]
			if c.has(st) || (home && !c.has("SAD", "SADH")) || (!home && !c.has("ADH", "ADM", "AES")) {
				continue
			}
			r := tariffs[st]
			c.Accreditations = append(c.Accreditations, Accreditation{ServiceType: st, HourlyTariffCents: (r[0] + r[1]) / 2, ValidFrom: accreditationsFrom})
			slices.SortFunc(c.Accreditations, func(a, b Accreditation) int {
				return slices.Index(identity.ServiceTypes, a.ServiceType) - slices.Index(identity.ServiceTypes, b.ServiceType)
			})
			n++
		}
	}
}

// partitaIVA returns a new plausible partita IVA: a seven-digit number, the code of a
// Lombard tax office (Milan's mostly) and the check digit, like the numbers issued in the
// last decades.
func (g *gen) partitaIVA() (string, error) {
	offices := []string{"015", "015", "096", "096", "108", "012"}
	for range 100 {
		base := fmt.Sprintf("%07d%s", 100_000+g.rng.IntN(1_300_000), offices[g.rng.IntN(len(offices))])
		for d := '0'; d <= '9'; d++ {
			code := base + string(d)
			if codicefiscale.ValidateNumeric(code) == nil {
				if !g.taxes[code] {
					g.taxes[code] = true
					return code, nil
				}
				break
			}
		}
	}
	return "", errors.New("no free partita IVA found")
}

func (g *gen) demoUser(d Data, s demoUserSpec) (DemoUser, error) {
	key := s.org
	switch key {
	case "coop":
		key = d.Cooperatives[0].Key
	case "comune":
		key = d.Comuni[0].Key
	}
	birth, err := time.Parse(time.DateOnly, s.birth)
	if err != nil {
		return DemoUser{}, fmt.Errorf("demo user %s: %w", s.role, err)
	}
	belfiore := s.abroad
	if s.birthISTAT != "" {
		p, ok := g.cat.ByISTAT(s.birthISTAT)
		if !ok {
			return DemoUser{}, fmt.Errorf("demo user %s: comune %s is not in the places catalog", s.role, s.birthISTAT)
		}
		belfiore = p.Belfiore
	}
	code, err := codicefiscale.Compute(s.family, s.given, birth, s.sex, belfiore)
	if err != nil {
		return DemoUser{}, fmt.Errorf("demo user %s: %w", s.role, err)
	}
	email := DemoEmail(s.role)
	g.codes[code], g.emails[email] = true, true
	return DemoUser{Person: Person{OrgKey: key, Role: s.role, FiscalCode: code, GivenName: s.given, FamilyName: s.family,
		Email: email, ValidFrom: "2024-01-01"}, Password: Password}, nil
}

type roleCount struct {
	role auth.Role
	n    int
}

// femaleShare is the share of women, in percent, among the holders of a role.
var femaleShare = map[auth.Role]int{
	auth.RoleServiceManager: 65, auth.RoleSocialWorker: 90, auth.RoleAdministrative: 70, auth.RolePlanningOffice: 65,
	auth.RoleCoopCoordinator: 65, auth.RoleEducator: 80, auth.RoleASA: 85, auth.RoleOSS: 75,
}

// staff adds people with the roles to the organization.
func (g *gen) staff(d *Data, org Org, roles []roleCount) error {
	for _, rc := range roles {
		for range rc.n {
			p, err := g.person(org, rc.role)
			if err != nil {
				return err
			}
			d.Operators = append(d.Operators, p)
		}
	}
	return nil
}

var (
	bornFrom = time.Date(1962, 1, 1, 0, 0, 0, 0, time.UTC)
	bornTo   = time.Date(2001, 12, 31, 0, 0, 0, 0, time.UTC)
	hireFrom = time.Date(2012, 1, 1, 0, 0, 0, 0, time.UTC)
	hireTo   = time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC)
)

func (g *gen) day(from, to time.Time) time.Time {
	return from.AddDate(0, 0, g.rng.IntN(int(to.Sub(from).Hours()/24)+1))
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// person makes one operator of org with role: a name and birthplace of one origin (the Milan
// area mostly, the rest of Italy, or abroad), a codice fiscale no one else has and an e-mail of
// the organization's domain.
func (g *gen) person(org Org, role auth.Role) (Person, error) {
	sex := codicefiscale.Male
	if g.rng.IntN(100) < femaleShare[role] {
		sex = codicefiscale.Female
	}
	var given, family, belfiore string
	switch origin := g.rng.IntN(100); {
	case origin < 88:
		if sex == codicefiscale.Female {
			given = pick(g.rng, synth.FemaleNames)
		} else {
			given = pick(g.rng, synth.MaleNames)
		}
		family = pick(g.rng, synth.Surnames)
		istat := pick(g.rng, synth.LombardBirthplaces)
		if origin >= 62 {
			istat = pick(g.rng, synth.ItalianBirthplaces)
		}
		p, ok := g.cat.ByISTAT(istat)
		if !ok {
			return Person{}, fmt.Errorf("birthplace %s is not in the places catalog", istat)
		}
		belfiore = p.Belfiore
	default:
		total := 0
		for _, f := range synth.ForeignOrigins {
			total += f.Share
		}
		n := g.rng.IntN(total)
		f := synth.ForeignOrigins[0]
		for _, o := range synth.ForeignOrigins {
			if n < o.Share {
				f = o
				break
			}
			n -= o.Share
		}
		if sex == codicefiscale.Female {
			given = pick(g.rng, f.Female)
		} else {
			given = pick(g.rng, f.Male)
		}
		family, belfiore = pick(g.rng, f.Surnames), f.Belfiore
	}
	birth := g.day(bornFrom, bornTo)
	var code string
	for tries := 0; ; tries++ {
		if tries == 50 {
			return Person{}, fmt.Errorf("no free codice fiscale for %s %s", given, family)
		}
		if _, ok := g.cat.ByBelfiore(belfiore, birth); !ok {
			return Person{}, fmt.Errorf("birthplace %s was not valid on %s", belfiore, birth.Format(time.DateOnly))
		}
		c, err := codicefiscale.Compute(family, given, birth, sex, belfiore)
		if err != nil {
			return Person{}, err
		}
		if !g.codes[c] {
			code = c
			break
		}
		birth = birth.AddDate(0, 0, 1) // a namesake born the same day in the same place
	}
	g.codes[code] = true
	local := slug(given, "") + "." + slug(family, "")
	email := local + "@" + org.Domain
	for n := 2; g.emails[email]; n++ {
		email = fmt.Sprintf("%s%d@%s", local, n, org.Domain)
	}
	g.emails[email] = true
	return Person{OrgKey: org.Key, Role: role, FiscalCode: code, GivenName: given, FamilyName: family, Email: email,
		Phone:     fmt.Sprintf("+39 3%02d %07d", 20+g.rng.IntN(80), g.rng.IntN(10_000_000)),
		ValidFrom: g.day(hireFrom, hireTo).Format(time.DateOnly)}, nil
}

// slug lower-cases s, drops accents and keeps letters and digits, joining words with sep.
func slug(s, sep string) string {
	var words []string
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(unicode.ToLower(r))
		case r == ' ' || r == '-':
			if b.Len() > 0 {
				words = append(words, b.String())
				b.Reset()
			}
		}
	}
	if b.Len() > 0 {
		words = append(words, b.String())
	}
	return strings.Join(words, sep)
}
