package synth

// The word lists the generators draw from (the demo ambito's operators and the synthetic
// citizens). Changing them changes the generated data: each generator is deterministic for a
// given seed and these lists.

// FemaleNames and MaleNames are common Italian given names.
var FemaleNames = []string{
	"Alessandra", "Alice", "Anna", "Annalisa", "Antonella", "Barbara", "Beatrice", "Benedetta",
	"Camilla", "Carla", "Caterina", "Chiara", "Claudia", "Cristina", "Daniela", "Debora",
	"Elena", "Eleonora", "Elisa", "Emanuela", "Federica", "Francesca", "Gabriella", "Giada",
	"Giorgia", "Giovanna", "Giulia", "Ilaria", "Irene", "Laura", "Letizia", "Lucia",
	"Manuela", "Marta", "Martina", "Michela", "Monica", "Nadia", "Noemi", "Paola",
	"Patrizia", "Roberta", "Rosa", "Sabrina", "Sara", "Serena", "Silvia", "Simona",
	"Sofia", "Stefania", "Teresa", "Valentina", "Valeria", "Veronica", "Viviana", "Nicoletta",
}

var MaleNames = []string{
	"Alberto", "Alessandro", "Andrea", "Angelo", "Antonio", "Carlo", "Claudio", "Cristian",
	"Daniele", "Davide", "Diego", "Edoardo", "Emanuele", "Enrico", "Fabio", "Federico",
	"Filippo", "Francesco", "Gabriele", "Giacomo", "Gianluca", "Giorgio", "Giovanni", "Giuseppe",
	"Lorenzo", "Luca", "Luigi", "Marco", "Mario", "Massimo", "Matteo", "Mattia",
	"Maurizio", "Michele", "Nicola", "Nicolò", "Paolo", "Pietro", "Riccardo", "Roberto",
	"Salvatore", "Simone", "Stefano", "Tommaso", "Umberto", "Valerio", "Vincenzo", "Walter",
}

// Surnames mixes the commonest Lombard surnames with the commonest Italian ones.
var Surnames = []string{
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

// LombardBirthplaces and ItalianBirthplaces are ISTAT codes of comuni to be born in:
// mostly the Milan area and Lombardy, then the rest of Italy.
var (
	LombardBirthplaces = []string{
		"015146", "015146", "015146", "015182", "015118", "108033", "016024", "017029",
		"013075", "012133", "018110", "019036", "098031", "097042", "012026", "012119",
		"015209", "015130", "015002", "015116", "015009", "015105",
	}
	ItalianBirthplaces = []string{
		"063049", "082053", "072006", "080063", "087015", "071024", "065116", "078045",
		"075035", "083048", "061022", "073027", "084001", "076063", "001272", "010025",
		"037006", "023091", "058091",
	}
)

// Origin is a country (Belfiore and ISO 3166-1 code) with names of people born there.
type Origin struct {
	Belfiore, Country string
	Female, Male      []string
	Surnames          []string
	Share             int // relative frequency among foreign-born residents
}

// ForeignOrigins are the commonest origins of foreign residents of the Milan area.
var ForeignOrigins = []Origin{
	{"Z129", "RO", []string{"Ioana", "Elena", "Andreea", "Mihaela"}, []string{"Andrei", "Mihai", "Ionuț", "Florin"},
		[]string{"Popescu", "Ionescu", "Popa", "Dumitrescu", "Stan", "Munteanu"}, 5},
	{"Z100", "AL", []string{"Elira", "Arjola", "Denisa", "Klaudia"}, []string{"Arben", "Ermal", "Besnik", "Gentian"},
		[]string{"Hoxha", "Shehu", "Dervishi", "Kola", "Leka", "Gjoka"}, 3},
	{"Z330", "MA", []string{"Fatima", "Khadija", "Salma", "Nadia"}, []string{"Youssef", "Mohamed", "Karim", "Hicham"},
		[]string{"El Amrani", "Benali", "Bennani", "El Idrissi", "Chakir", "Tazi"}, 3},
	{"Z611", "PE", []string{"Rosa", "Milagros", "Carmen", "Lucía"}, []string{"Luis", "José", "Carlos", "Jorge"},
		[]string{"Quispe", "Huamán", "Flores", "Mamani", "Rojas", "Chávez"}, 3},
	{"Z605", "EC", []string{"María", "Gabriela", "Verónica", "Daniela"}, []string{"Jorge", "Édison", "Fernando", "Darío"},
		[]string{"Zambrano", "Cedeño", "Vera", "Moreira", "Mendoza", "Intriago"}, 2},
	{"Z138", "UA", []string{"Olena", "Oksana", "Natalia", "Iryna"}, []string{"Andriy", "Oleksandr", "Taras", "Serhiy"},
		[]string{"Kovalenko", "Shevchenko", "Bondarenko", "Tkachenko", "Melnyk", "Kravchenko"}, 2},
	{"Z216", "PH", []string{"Maricel", "Jocelyn", "Rowena", "Analyn"}, []string{"Rommel", "Jericho", "Mark", "Noel"},
		[]string{"Santos", "Reyes", "Cruz", "Bautista", "Garcia", "Aquino"}, 2},
	{"Z343", "SN", []string{"Awa", "Fatou", "Mariama", "Aminata"}, []string{"Moussa", "Mamadou", "Ibrahima", "Cheikh"},
		[]string{"Diop", "Ndiaye", "Fall", "Sow", "Diallo", "Sarr"}, 2},
	{"Z210", "CN", []string{"Jing", "Li Na", "Xiaoyan", "Mei"}, []string{"Wei", "Hao", "Jun", "Xiaoming"},
		[]string{"Hu", "Chen", "Zhou", "Wang", "Zhang", "Lin"}, 3},
	{"Z336", "EG", []string{"Mona", "Aya", "Rania", "Heba"}, []string{"Ahmed", "Mahmoud", "Mostafa", "Amr"},
		[]string{"Abdelrahman", "Hassan", "Ibrahim", "Mansour", "Saleh", "Farag"}, 3},
}
