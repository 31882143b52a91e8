package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

type note struct {
	Text string `json:"text"`
}

// TestPathDecoders: the id of the path, If-Match and the body are read together, and each
// mistake is a problem naming its field.
func TestPathDecoders(t *testing.T) {
	id := uuid.Must(uuid.NewV7())
	req := func(pathID, ifMatch, body string) *http.Request {
		r := httptest.NewRequest("PATCH", "/v1/notes/"+pathID, strings.NewReader(body))
		r.SetPathValue("id", pathID)
		r.Header.Set("Content-Type", "application/json")
		if ifMatch != "" {
			r.Header.Set("If-Match", ifMatch)
		}
		return r
	}
	got, err := httpapi.DecodePatch[note](context.Background(), req(id.String(), `"3"`, `{"text":"a"}`))
	if diff := cmp.Diff(got, any(httpapi.Patch[note]{ID: id, Version: 3, Patch: note{Text: "a"}})); err != nil || diff != "" {
		t.Fatalf("DecodePatch = %v (-got +want):\n%s", err, diff)
	}
	gotID, body, err := httpapi.IDAndBody[note](req(id.String(), "", `{"text":"b"}`), "id")
	if err != nil || gotID != id || body.Text != "b" {
		t.Fatalf("IDAndBody = %v, %+v, %v", gotID, body, err)
	}
	for _, tc := range []struct {
		name  string
		r     *http.Request
		field string
	}{
		{"not an id", req("42", `"3"`, `{}`), "id"},
		{"no If-Match", req(id.String(), "", `{}`), "If-Match"},
		{"unknown member", req(id.String(), `"3"`, `{"x":1}`), "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := httpapi.DecodePatch[note](context.Background(), tc.r)
			e, ok := err.(*errs.Error)
			if !ok || len(e.Fields) != 1 || e.Fields[0].Field != tc.field {
				t.Fatalf("DecodePatch = %v, want a problem naming %s", err, tc.field)
			}
		})
	}
}
