package intake

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// Code is one value of a coded list: a stable internal code and its Italian label. The
// regional exchange maps internal codes to its own values (RegionalElement.Values).
type Code struct {
	Code  string `json:"code"`
	Label string `json:"label"`
	// INPS lists the national benefit codes (nomenclatore INPS, SIUSS flows) of a service_type,
	// one per setting; empty for every other list.
	INPS []INPSCode `json:"inps,omitempty"`
}

// INPSCode is a national benefit code, a code of the "inps_benefit" list, that applies to a
// service type in a setting.
type INPSCode struct {
	Code string `json:"code"`
	// Setting is "home" or "school" when the code depends on where the service is delivered
	// (ADH); empty when it fits every setting.
	Setting string `json:"setting,omitempty"`
}

// CodeList is a named coded list of the record (phases A–E), e.g. "channel", "closure_reason".
type CodeList struct {
	Name string `json:"name"`
	// Label is the Italian name of the list.
	Label string `json:"label"`
	Codes []Code `json:"codes"`
}

//go:embed data/codes.json
var codesJSON []byte

type codeFile struct {
	Version int        `json:"version"`
	Lists   []CodeList `json:"lists"`
}

// codeData is data/codes.json parsed: the lists in the order of the file, and by name.
var codeData = sync.OnceValues(func() ([]CodeList, map[string]CodeList) {
	var file codeFile
	if err := json.Unmarshal(codesJSON, &file); err != nil {
		panic(fmt.Sprintf("intake: data/codes.json: %v", err))
	}
	m := make(map[string]CodeList, len(file.Lists))
	for _, l := range file.Lists {
		if _, dup := m[l.Name]; dup {
			panic(fmt.Sprintf("intake: data/codes.json: list %q twice", l.Name))
		}
		m[l.Name] = l
	}
	return file.Lists, m
})

// CodeLists returns every coded list (data/codes.json), in the order of the file. The result is
// the caller's own copy.
func CodeLists() []CodeList {
	lists, _ := codeData()
	out := make([]CodeList, len(lists))
	for i, l := range lists {
		out[i] = l.clone()
	}
	return out
}

// Lookup returns the coded list with the name.
func Lookup(list string) (CodeList, bool) {
	_, byName := codeData()
	l, ok := byName[list]
	if !ok {
		return CodeList{}, false
	}
	return l.clone(), true
}

func (l CodeList) clone() CodeList {
	c := l
	c.Codes = make([]Code, len(l.Codes))
	for i, code := range l.Codes {
		code.INPS = append([]INPSCode(nil), code.INPS...)
		c.Codes[i] = code
	}
	return c
}

// Has reports whether code is a code of the list.
func (l CodeList) Has(code string) bool {
	_, ok := l.Code(code)
	return ok
}

// Code returns the entry with the code.
func (l CodeList) Code(code string) (Code, bool) {
	for _, c := range l.Codes {
		if c.Code == code {
			return c, true
		}
	}
	return Code{}, false
}

func (l CodeList) codes() []string {
	out := make([]string, len(l.Codes))
	for i, c := range l.Codes {
		out[i] = c.Code
	}
	return out
}

// Check records a field error when code is not a code of the list, or is empty and required.
// The message lists the allowed codes.
func (l CodeList) Check(f *errs.Fields, field, code string, required bool) {
	switch {
	case code == "":
		if required {
			f.Add(field, "is required")
		}
	case !l.Has(code):
		f.Add(field, "must be one of %s", strings.Join(l.codes(), ", "))
	}
}

// CheckAll records a field error (field[i]) for each code that is not a code of the list and for
// each code listed twice.
func (l CodeList) CheckAll(f *errs.Fields, field string, codes []string) {
	seen := make(map[string]int, len(codes))
	for i, c := range codes {
		name := fmt.Sprintf("%s[%d]", field, i)
		if j, dup := seen[c]; dup {
			f.Add(name, "repeats %s[%d]", field, j)
			continue
		}
		seen[c] = i
		l.Check(f, name, c, true)
	}
}
