package docstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/docstore"
	"github.com/csi-lombardia/csi/pkg/docstore/docstoretest"
	"github.com/csi-lombardia/csi/pkg/errs"
)

// TestStores runs one contract against every implementation, on real storage.
func TestStores(t *testing.T) {
	stores := []struct {
		name string
		open func(t *testing.T) docstore.Store
	}{
		{"dir", func(t *testing.T) docstore.Store {
			d, err := docstore.NewDir(filepath.Join(t.TempDir(), "objects"))
			if err != nil {
				t.Fatal(err)
			}
			return d
		}},
		{"s3", func(t *testing.T) docstore.Store { return docstoretest.S3(t) }},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) { contract(t, st.open(t)) })
	}
}

func contract(t *testing.T, s docstore.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("get missing", func(t *testing.T) {
		_, err := s.Get(ctx, "nothing/here.json")
		if got := errs.KindOf(err); got != errs.NotFound {
			t.Errorf("Get of a missing key = %v (kind %v), want NotFound", err, got)
		}
	})
	t.Run("put get replace", func(t *testing.T) {
		if err := s.Put(ctx, "a/b/one.json", []byte(`{"n":1}`), "application/json"); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "a/b/one.json", []byte(`{"n":2}`), "application/json"); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "a/b/one.json")
		if err != nil {
			t.Fatal(err)
		}
		want := docstore.Object{Key: "a/b/one.json", Body: []byte(`{"n":2}`), ContentType: "application/json"}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("Get (-got +want):\n%s", diff)
		}
	})
	t.Run("empty body", func(t *testing.T) {
		if err := s.Put(ctx, "empty", nil, "application/octet-stream"); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "empty")
		if err != nil || len(got.Body) != 0 {
			t.Errorf("Get of an empty object = %q, %v", got.Body, err)
		}
	})
	t.Run("list by prefix", func(t *testing.T) {
		for _, k := range []string{"l/x/2", "l/x/1", "l/y/1", "lz"} {
			if err := s.Put(ctx, k, []byte(k), "text/plain"); err != nil {
				t.Fatal(err)
			}
		}
		cases := []struct {
			prefix string
			want   []string
		}{
			{"l/x/", []string{"l/x/1", "l/x/2"}},
			{"l/", []string{"l/x/1", "l/x/2", "l/y/1"}},
			{"l", []string{"l/x/1", "l/x/2", "l/y/1", "lz"}},
			{"none/", nil},
		}
		for _, c := range cases {
			got, err := s.List(ctx, c.prefix)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, c.want); diff != "" {
				t.Errorf("List(%q) (-got +want):\n%s", c.prefix, diff)
			}
		}
	})
	t.Run("delete", func(t *testing.T) {
		if err := s.Put(ctx, "d/gone", []byte("x"), "text/plain"); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ { // the second Delete finds nothing and succeeds
			if err := s.Delete(ctx, "d/gone"); err != nil {
				t.Fatalf("Delete #%d: %v", i+1, err)
			}
		}
		if _, err := s.Get(ctx, "d/gone"); errs.KindOf(err) != errs.NotFound {
			t.Errorf("Get after Delete = %v, want NotFound", err)
		}
		if got, err := s.List(ctx, "d/"); err != nil || len(got) != 0 {
			t.Errorf("List after Delete = %q, %v; want none", got, err)
		}
		if err := s.Delete(ctx, "a//b"); errs.KindOf(err) != errs.Invalid {
			t.Errorf("Delete of a bad key = %v, want Invalid", err)
		}
	})
	t.Run("bad keys", func(t *testing.T) {
		for _, k := range []string{"", "/abs", "a//b", "a/../b", "a/./b", "trailing/", ".hidden", "sp ace", `back\slash`, strings.Repeat("k", 513)} {
			if err := s.Put(ctx, k, []byte("x"), "text/plain"); errs.KindOf(err) != errs.Invalid {
				t.Errorf("Put(%q) = %v, want an Invalid error", k, err)
			}
			if _, err := s.Get(ctx, k); errs.KindOf(err) != errs.Invalid {
				t.Errorf("Get(%q) = %v, want an Invalid error", k, err)
			}
		}
	})
	t.Run("deadline", func(t *testing.T) {
		done, cancel := context.WithCancel(ctx)
		cancel()
		err := s.Put(done, "late", []byte("x"), "text/plain")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Put with a cancelled context = %v, want context.Canceled", err)
		}
	})
}

// TestDirLeavesNoTemporaryFiles: a Dir writes through a temporary file and a rename.
func TestDirLeavesNoTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	d, err := docstore.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := d.Put(context.Background(), "k/v", []byte("x"), "text/plain"); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(root, "k"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff(names, []string{"v"}); diff != "" {
		t.Errorf("files (-got +want):\n%s", diff)
	}
}
