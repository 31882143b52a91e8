package demo

// The word lists the generator draws from. Changing them changes the demo data: the generator
// is deterministic for a given seed and these lists.

// italianFemale and italianMale are common Italian given names.
var italianFemale = []string{
	"Alessandra", "Alice", "Anna", "Annalisa", "Antonella", "Barbara", "Beatrice", "Benedetta",
	"Camilla", "Carla", "Caterina", "Chiara", "Claudia", "Cristina", "Daniela", "Debora",
	"Elena", "Eleonora", "Elisa", "Emanuela", "Federica", "Francesca", "Gabriella", "Giada",
	"Giorgia", "Giovanna", "Giulia", "Ilaria", "Irene", "Laura", "Letizia", "Lucia",
	"Manuela", "Marta", "Martina", "Michela", "Monica", "Nadia", "Noemi", "Paola",
	"Patrizia", "Roberta", "Rosa", "Sabrina", "Sara", "Serena", "Silvia", "Simona",
	"Sofia", "Stefania", "Teresa", "Valentina", "Valeria", "Veronica", "Viviana", "Nicoletta",
}

var italianMale = []string{
	"Alberto", "Alessandro", "Andrea", "Angelo", "Antonio", "Carlo", "Claudio", "Cristian",
	"Daniele", "Davide", "Diego", "Edoardo", "Emanuele", "Enrico", "Fabio", "Federico",
	"Filippo", "Francesco", "Gabriele", "Giacomo", "Gianluca", "Giorgio", "Giovanni", "Giuseppe",
	"Lorenzo", "Luca", "Luigi", "Marco", "Mario", "Massimo", "Matteo", "Mattia",
	"Maurizio", "Michele", "Nicola", "Nicolò", "Paolo", "Pietro", "Riccardo", "Roberto",
	"Salvatore", "Simone", "Stefano", "Tommaso", "Umberto", "Valerio", "Vincenzo", "Walter",
}

// italianSurnames mixes the commonest Lombard surnames with the commonest Italian ones.
var italianSurnames = []string{
	"Rossi", "Colombo", "Ferrari", "Brambilla", "Bianchi", "Villa", "Galli", "Fumagalli",
	"Sala", "Cattaneo", "Mariani", "Riva", "Ronchi", "Longoni", "Mauri", "Meroni",
	"Pozzi", "Frigerio", "Crippa", "Barzaghi", "Corti", "Redaelli", "Rigamonti", "Beretta",
	"Bassi", "Vismara", "Marelli", "Spinelli", "Arosio", "Cazzaniga", "Sironi", "Molteni",
	"Zanetti", "Pirovano", "Gatti", "Moretti", "Lombardi", "Ricci", "Marino", "Greco",
	"Bruno", "Conti", "De Luca", "Costa", "Giordano", "Mancini", "Rizzo", "Lombardo",
	"Barbieri", "Fontana", "Santoro", "Caruso", "Rinaldi", "Ferrara", "Leone", "Longo",
	"Gentile", "Martinelli", "Vitale", "Serra", "Coppola", "De Santis", "D'Angelo", "Marchetti",
	"Parisi", "Conte", "Ferraro", "Fabbri", "Bianco", "Marini", "Grasso", "Valentini",
	"Messina", "De Angelis", "Pellegrini", "Palumbo", "Farina", "Rizzi", "Monti", "Morelli",
	"Amato", "Silvestri", "Mazza", "Testa", "Grassi", "Pellegrino", "Carbone", "Giuliani",
	"Benedetti", "Barone", "Rossetti", "Caputo", "Montanari", "Guerra", "Palmieri", "Bernardi",
	"Martino", "Fiore", "De Rosa", "Ferri", "Esposito", "Russo", "Romano", "Gallo",
	"Cirillo", "La Rosa", "Sorrentino", "Milani", "Bonomi", "Vergani", "Tagliabue", "Radaelli",
}

// lombardBirthplaces and italianBirthplaces are ISTAT codes of comuni operators were born in:
// mostly the Milan area and Lombardy, then the rest of Italy.
var (
	lombardBirthplaces = []string{
		"015146", "015146", "015146", "015182", "015118", "108033", "016024", "017029",
		"013075", "012133", "018110", "019036", "098031", "097042", "012026", "012119",
		"015209", "015130", "015002", "015116", "015009", "015105",
	}
	italianBirthplaces = []string{
		"063049", "082053", "072006", "080063", "087015", "071024", "065116", "078045",
		"075035", "083048", "061022", "073027", "084001", "076063", "001272", "010025",
		"037006", "023091", "058091",
	}
)

// foreignOrigin is a country (Belfiore code) with names of people born there.
type foreignOrigin struct {
	belfiore         string
	female, male     []string
	surnames         []string
	shareOfForeigner int // relative frequency
}

var foreignOrigins = []foreignOrigin{
	{"Z129", []string{"Ioana", "Elena", "Andreea", "Mihaela"}, []string{"Andrei", "Mihai", "Ionuț", "Florin"},
		[]string{"Popescu", "Ionescu", "Popa", "Dumitrescu", "Stan", "Munteanu"}, 5},
	{"Z100", []string{"Elira", "Arjola", "Denisa", "Klaudia"}, []string{"Arben", "Ermal", "Besnik", "Gentian"},
		[]string{"Hoxha", "Shehu", "Dervishi", "Kola", "Leka", "Gjoka"}, 3},
	{"Z330", []string{"Fatima", "Khadija", "Salma", "Nadia"}, []string{"Youssef", "Mohamed", "Karim", "Hicham"},
		[]string{"El Amrani", "Benali", "Bennani", "El Idrissi", "Chakir", "Tazi"}, 3},
	{"Z611", []string{"Rosa", "Milagros", "Carmen", "Lucía"}, []string{"Luis", "José", "Carlos", "Jorge"},
		[]string{"Quispe", "Huamán", "Flores", "Mamani", "Rojas", "Chávez"}, 3},
	{"Z605", []string{"María", "Gabriela", "Verónica", "Daniela"}, []string{"Jorge", "Édison", "Fernando", "Darío"},
		[]string{"Zambrano", "Cedeño", "Vera", "Moreira", "Mendoza", "Intriago"}, 2},
	{"Z138", []string{"Olena", "Oksana", "Natalia", "Iryna"}, []string{"Andriy", "Oleksandr", "Taras", "Serhiy"},
		[]string{"Kovalenko", "Shevchenko", "Bondarenko", "Tkachenko", "Melnyk", "Kravchenko"}, 2},
	{"Z216", []string{"Maricel", "Jocelyn", "Rowena", "Analyn"}, []string{"Rommel", "Jericho", "Mark", "Noel"},
		[]string{"Santos", "Reyes", "Cruz", "Bautista", "Garcia", "Aquino"}, 2},
	{"Z343", []string{"Awa", "Fatou", "Mariama", "Aminata"}, []string{"Moussa", "Mamadou", "Ibrahima", "Cheikh"},
		[]string{"Diop", "Ndiaye", "Fall", "Sow", "Diallo", "Sarr"}, 2},
}

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

// comune is a comune of the demo ambito with its inhabitants (rounded, for sizing its staff).
type comune struct {
	istat       string
	inhabitants int
}

// demoComuni are eight neighbouring comuni north-west of Milan (the area of the real Ambito
// del Rhodense), by ISTAT code.
var demoComuni = []comune{
	{"015182", 51000}, // Rho
	{"015009", 19400}, // Arese
	{"015087", 20700}, // Cornaredo
	{"015116", 25800}, // Lainate
	{"015170", 11500}, // Pero
	{"015176", 8400},  // Pogliano Milanese
	{"015179", 7300},  // Pregnana Milanese
	{"015211", 20100}, // Settimo Milanese
}
