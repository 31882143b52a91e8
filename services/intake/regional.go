package intake

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// RegionalElement maps an internal field of the record to an element of the regional HL7 v3
// exchange (one event per phase, four-letter element codes; DGR X/5499/2016). The model keeps
// its own stable codes; an export reads this table, so a change of the regional format is a
// change of data/regional-elements.json, not of the model.
type RegionalElement struct {
	// Code is the element's four capital letters: TIRI, MOCO, ...
	Code string `json:"code"`
	// Phase is the phase of the record, "A" to "E".
	Phase string `json:"phase"`
	// Field is the internal field path, e.g. "access.request_type"; "[]" marks an element of an
	// array ("plan.services[].service_type").
	Field string `json:"field"`
	// Label is the Italian name of the element.
	Label string `json:"label"`
	// Type is what the field holds: "code" (a code of List), "code_list" (several codes of
	// List), "need_codes" (needs taxonomy codes, sent as they are), "date", "amount" (euro),
	// "number", "text", "boolean" or "operator" (an operator of the identity service).
	Type string `json:"type"`
	// List names the code list whose codes key Values, for the types "code" and "code_list".
	List string `json:"list,omitempty"`
	// Sources are the services that fill the element: "intake", and for phase D "interventions"
	// and "fna".
	Sources []string `json:"sources"`
	// Placeholder is true when Code is an internal code awaiting the regional specification;
	// false for the element codes the region uses (TIRI, MOCO, AMIR, ISEE, VMBS, IMER, MOCP).
	Placeholder bool `json:"placeholder"`
	// Note says what the mapping needs beyond Values, e.g. that AMIR is reached through the
	// taxonomy area's national_area.
	Note string `json:"note,omitempty"`
	// Values maps each internal code of List to the regional value.
	Values map[string]string `json:"values,omitempty"`
}

//go:embed data/regional-elements.json
var regionalJSON []byte

var regionalElements = sync.OnceValue(func() []RegionalElement {
	var file struct {
		Version  int               `json:"version"`
		Note     string            `json:"note"`
		Elements []RegionalElement `json:"elements"`
	}
	if err := json.Unmarshal(regionalJSON, &file); err != nil {
		panic(fmt.Sprintf("intake: data/regional-elements.json: %v", err))
	}
	return file.Elements
})

func (e RegionalElement) clone() RegionalElement {
	c := e
	c.Sources = slices.Clone(e.Sources)
	c.Values = maps.Clone(e.Values)
	return c
}

// RegionalElements returns the whole mapping table (data/regional-elements.json), in phase
// order. The result is the caller's own copy.
func RegionalElements() []RegionalElement {
	all := regionalElements()
	out := make([]RegionalElement, len(all))
	for i, e := range all {
		out[i] = e.clone()
	}
	return out
}

// RegionalElementFor returns the element that an internal field maps to.
func RegionalElementFor(field string) (RegionalElement, bool) {
	for _, e := range regionalElements() {
		if e.Field == field {
			return e.clone(), true
		}
	}
	return RegionalElement{}, false
}

// Value returns the regional value of an internal code of the element's list.
func (e RegionalElement) Value(code string) (string, bool) {
	v, ok := e.Values[code]
	return v, ok
}
