package demo

// The word lists the generator draws from. Changing them changes the demo data: the generator
// is deterministic for a given seed and these lists.

// cooperativeNames are the demo cooperatives, in order; the first one is mixed (home care and
// education) and employs the demo users of the cooperative roles.
var cooperativeNames = []string{
	"Cooperativa Sociale Il Girasole",
	"Cooperativa Sociale La Quercia",
	"Cooperativa Sociale Arcobaleno",
	"Cooperativa Sociale Il Melograno",
	"Cooperativa Sociale La Rete",
	"Cooperativa Sociale Il Sorriso",
	"Cooperativa Sociale Progetto Persona",
	"Cooperativa Sociale Il Ponte",
	"Cooperativa Sociale La Bussola",
	"Cooperativa Sociale Il Faro",
	"Cooperativa Sociale Filo d'Arianna",
	"Cooperativa Sociale Il Seme",
	"Cooperativa Sociale Insieme",
	"Cooperativa Sociale La Tenda",
	"Cooperativa Sociale Il Germoglio",
	"Cooperativa Sociale Albatros",
	"Cooperativa Sociale Il Mosaico",
	"Cooperativa Sociale Lo Scrigno",
	"Cooperativa Sociale L'Aquilone",
	"Cooperativa Sociale Spazio Aperto",
}
