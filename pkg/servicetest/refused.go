package servicetest

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// Refusal is a request sent as it is (its body not encoded, its content type as given) that the
// service must refuse with Status and a problem naming exactly Field: a member given twice, an
// unpaired surrogate escape, a missing or other content type, a path ServeMux would redirect.
type Refusal struct {
	Name, Method, Path, Token string
	ContentType               string // "" sends none
	Body                      string
	Status                    int
	Field                     string
	// Members are top-level string members the problem must carry (an OAuth "error" code); a
	// member wanted "" must be absent or empty.
	Members map[string]string
}

// JSON is v encoded, for a Refusal's body to be edited ("a member given twice").
func JSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Refused sends every request and checks its answer (against the contract too, when its path is
// one of the contract's: a path with dot or empty segments is not); rows counts what they could
// have written, and must not change.
func (s *Suite) Refused(t *testing.T, cases []Refusal, rows func() int) {
	before := rows()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			var body io.Reader
			if tc.Body != "" {
				body = strings.NewReader(tc.Body)
			}
			req, err := http.NewRequest(tc.Method, s.Srv.URL+tc.Path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.ContentType != "" {
				req.Header.Set("Content-Type", tc.ContentType)
			}
			if tc.Token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.Token)
			}
			client := s.Client()
			if strings.Contains(req.URL.Path, "/.") || strings.Contains(req.URL.Path, "//") {
				client = s.Srv.Client()
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.Status {
				t.Fatalf("%s %s = %d, want %d: %s", tc.Method, tc.Path, resp.StatusCode, tc.Status, data)
			}
			var p Problem
			var members map[string]any
			if err := json.Unmarshal(data, &p); err != nil || json.Unmarshal(data, &members) != nil {
				t.Fatalf("problem %s: %v", data, err)
			}
			if !slices.Equal(p.Fields(), []string{tc.Field}) {
				t.Errorf("problem fields %v, want [%s]: %s", p.Fields(), tc.Field, data)
			}
			for name, want := range tc.Members {
				if got, _ := members[name].(string); got != want {
					t.Errorf("problem member %s = %q, want %q", name, got, want)
				}
			}
		})
	}
	if after := rows(); after != before {
		t.Errorf("rows %d -> %d: a refused request wrote", before, after)
	}
}
