package errs

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestKindOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Kind
	}{
		{"plain error is internal", errors.New("boom"), Internal},
		{"direct", E(NotFound, "operator not found"), NotFound},
		{"wrapped with fmt", fmt.Errorf("get: %w", E(Conflict, "taken")), Conflict},
		{"wrap keeps kind", Wrap(Unavailable, errors.New("dial"), "database down"), Unavailable},
		{"fields", func() error { var f Fields; f.Add("email", "required"); return f.Err() }(), Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KindOf(tt.err); got != tt.want {
				t.Errorf("KindOf(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestFields(t *testing.T) {
	var f Fields
	if f.Err() != nil {
		t.Fatal("empty Fields must give a nil error")
	}
	f.Check(true, "a", "never")
	f.Check(false, "b", "must be %d", 3)
	f = append(f, Fields{{Field: "x", Message: "bad"}}.Prefix("rows[2].")...)
	var e *Error
	if !errors.As(f.Err(), &e) {
		t.Fatal("Err is not *Error")
	}
	want := []FieldError{{Field: "b", Message: "must be 3"}, {Field: "rows[2].x", Message: "bad"}}
	if diff := cmp.Diff(e.Fields, want); diff != "" {
		t.Errorf("fields (-got +want):\n%s", diff)
	}
}

func TestUnwrapHidesCauseFromMessage(t *testing.T) {
	cause := errors.New("password=secret")
	e := Wrap(Internal, cause, "save failed")
	if !errors.Is(e, cause) {
		t.Error("Wrap must keep the cause in the chain")
	}
	if e.Message != "save failed" {
		t.Errorf("Message = %q", e.Message)
	}
}
