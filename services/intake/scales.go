package intake

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// Scale is one version of an assessment scale: ADL (Katz) or IADL (Lawton–Brody). An
// assessment stores the answers and the scale's code and version; the score is computed from
// them with the table of that version, so a new table never changes an old score.
type Scale struct {
	// Code is "adl" or "iadl".
	Code    string `json:"code"`
	Version int    `json:"version"`
	// Name and Note are Italian, for operators: what the version is and how it scores.
	Name  string      `json:"name"`
	Note  string      `json:"note"`
	Items []ScaleItem `json:"items"`
}

// ScaleItem is a function the scale assesses (bathing, telephone...), answered with one of its
// options.
type ScaleItem struct {
	Code    string        `json:"code"`
	Label   string        `json:"label"`
	Options []ScaleOption `json:"options"`
}

// ScaleOption is an answer to an item and what it scores: 1 (the function is kept) or 0 (lost).
type ScaleOption struct {
	Code  string `json:"code"`
	Label string `json:"label"`
	Score int    `json:"score"`
}

// ScaleResult is the score of a set of answers: Score of Max (the number of items, 6 for ADL and
// 8 for IADL), and the lost functions that Italian practice reports, Max − Score.
type ScaleResult struct {
	Scale         string `json:"scale"`
	Version       int    `json:"version"`
	Score         int    `json:"score"`
	Max           int    `json:"max"`
	LostFunctions int    `json:"lost_functions"`
}

//go:embed data/scales.json
var scalesJSON []byte

var scales = sync.OnceValue(func() []Scale {
	var file struct {
		Scales []Scale `json:"scales"`
	}
	if err := json.Unmarshal(scalesJSON, &file); err != nil {
		panic(fmt.Sprintf("intake: data/scales.json: %v", err))
	}
	if err := validateScales(file.Scales); err != nil {
		panic(fmt.Sprintf("intake: data/scales.json: %v", err))
	}
	return file.Scales
})

// validateScales checks what Score relies on: versions unique per code and numbered from 1,
// items and options unique, every item with at least two options, every score 0 or 1.
func validateScales(list []Scale) error {
	versions := map[string][]int{}
	for _, s := range list {
		if s.Code == "" || len(s.Items) == 0 {
			return fmt.Errorf("scale %q version %d: no code or no items", s.Code, s.Version)
		}
		versions[s.Code] = append(versions[s.Code], s.Version)
		items := map[string]bool{}
		for _, it := range s.Items {
			if it.Code == "" || items[it.Code] {
				return fmt.Errorf("%s v%d: item %q empty or repeated", s.Code, s.Version, it.Code)
			}
			items[it.Code] = true
			if len(it.Options) < 2 {
				return fmt.Errorf("%s v%d: item %s has fewer than two options", s.Code, s.Version, it.Code)
			}
			options := map[string]bool{}
			for _, o := range it.Options {
				if o.Code == "" || options[o.Code] {
					return fmt.Errorf("%s v%d: %s: option %q empty or repeated", s.Code, s.Version, it.Code, o.Code)
				}
				options[o.Code] = true
				if o.Score != 0 && o.Score != 1 {
					return fmt.Errorf("%s v%d: %s.%s scores %d, not 0 or 1", s.Code, s.Version, it.Code, o.Code, o.Score)
				}
			}
		}
	}
	for code, vs := range versions {
		slices.Sort(vs)
		for i, v := range vs {
			if v != i+1 {
				return fmt.Errorf("scale %s: versions %v are not 1..%d", code, vs, len(vs))
			}
		}
	}
	return nil
}

func (s Scale) clone() Scale {
	c := s
	c.Items = make([]ScaleItem, len(s.Items))
	for i, it := range s.Items {
		it.Options = append([]ScaleOption(nil), it.Options...)
		c.Items[i] = it
	}
	return c
}

// Scales returns every version of every scale (data/scales.json), in the order of the file. The
// result is the caller's own copy.
func Scales() []Scale {
	all := scales()
	out := make([]Scale, len(all))
	for i, s := range all {
		out[i] = s.clone()
	}
	return out
}

// LookupScale returns a version of a scale.
func LookupScale(code string, version int) (Scale, bool) {
	for _, s := range scales() {
		if s.Code == code && s.Version == version {
			return s.clone(), true
		}
	}
	return Scale{}, false
}

// LatestScale returns the highest version of a scale, the one new assessments use; the zero
// Scale when there is no scale with the code.
func LatestScale(code string) Scale {
	var latest Scale
	for _, s := range scales() {
		if s.Code == code && s.Version > latest.Version {
			latest = s
		}
	}
	if latest.Code == "" {
		return Scale{}
	}
	return latest.clone()
}

// Item returns the item with the code.
func (s Scale) Item(code string) (ScaleItem, bool) {
	for _, it := range s.Items {
		if it.Code == code {
			return it, true
		}
	}
	return ScaleItem{}, false
}

// Option returns the option with the code.
func (it ScaleItem) Option(code string) (ScaleOption, bool) {
	for _, o := range it.Options {
		if o.Code == code {
			return o, true
		}
	}
	return ScaleOption{}, false
}

// Score computes the result of answers, item code → option code. Every item must be answered
// with one of its options, and nothing else may be answered; otherwise the error is Invalid
// with a field "answers.<item>" for each item missing, answered with an unknown option, or
// unknown to the scale. The zero Scale (LatestScale of an unknown code) scores nothing: its
// error names the field "scale".
func (s Scale) Score(answers map[string]string) (ScaleResult, error) {
	if len(s.Items) == 0 {
		return ScaleResult{}, errs.InvalidField("scale", "is not a known scale")
	}
	var f errs.Fields
	res := ScaleResult{Scale: s.Code, Version: s.Version, Max: len(s.Items)}
	for _, it := range s.Items {
		field := "answers." + it.Code
		a, ok := answers[it.Code]
		if !ok || a == "" {
			f.Add(field, "is required")
			continue
		}
		o, ok := it.Option(a)
		if !ok {
			f.Add(field, "must be one of %s", strings.Join(it.optionCodes(), ", "))
			continue
		}
		res.Score += o.Score
	}
	var unknown []string
	for code := range answers {
		if _, ok := s.Item(code); !ok {
			unknown = append(unknown, code)
		}
	}
	slices.Sort(unknown)
	for _, code := range unknown {
		f.Add("answers."+code, "is not an item of %s version %d", s.Code, s.Version)
	}
	if err := f.Err(); err != nil {
		return ScaleResult{}, err
	}
	res.LostFunctions = res.Max - res.Score
	return res, nil
}

func (it ScaleItem) optionCodes() []string {
	out := make([]string, len(it.Options))
	for i, o := range it.Options {
		out[i] = o.Code
	}
	return out
}
