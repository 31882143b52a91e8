package docstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// metaDir holds the content types of a Dir's objects, beside them; no key starts with it, since
// no key segment starts with a dot.
const metaDir = ".content-type"

// Dir is a Store in a directory: each object is a file at its key's path, written to a
// temporary file and renamed into place, so that it is replaced whole; its content type is kept
// in a small file under .content-type/.
type Dir struct {
	root string
}

// NewDir returns a Store in root, creating the directory (0700) when missing.
func NewDir(root string) (*Dir, error) {
	if root == "" {
		return nil, errors.New("docstore: no directory")
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("docstore: %w", err)
	}
	return &Dir{root: root}, nil
}

// Root is the directory of the store.
func (d *Dir) Root() string { return d.root }

func (d *Dir) path(key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// Put implements Store.
func (d *Dir) Put(ctx context.Context, key string, body []byte, contentType string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := writeFile(p, body); err != nil {
		return fmt.Errorf("docstore put %s: %w", key, err)
	}
	if err := writeFile(filepath.Join(d.root, metaDir, filepath.FromSlash(key)), []byte(contentType)); err != nil {
		return fmt.Errorf("docstore put %s: %w", key, err)
	}
	return nil
}

// writeFile writes b to a temporary file beside p, syncs it and renames it to p.
func writeFile(p string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename there is nothing to remove
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}

// Get implements Store.
func (d *Dir) Get(ctx context.Context, key string) (Object, error) {
	p, err := d.path(key)
	if err != nil {
		return Object{}, err
	}
	if err := ctx.Err(); err != nil {
		return Object{}, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Object{}, errs.E(errs.NotFound, "docstore: no object %s", key)
	}
	if err != nil {
		return Object{}, fmt.Errorf("docstore get %s: %w", key, err)
	}
	ct, err := os.ReadFile(filepath.Join(d.root, metaDir, filepath.FromSlash(key)))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Object{}, fmt.Errorf("docstore get %s: %w", key, err)
	}
	return Object{Key: key, Body: b, ContentType: string(ct)}, nil
}

// List implements Store.
func (d *Dir) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(d.root, p)
		key := filepath.ToSlash(rel)
		if e.IsDir() {
			if key == metaDir {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(e.Name(), ".tmp-") || !strings.HasPrefix(key, prefix) {
			return nil
		}
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("docstore list %s: %w", prefix, err)
	}
	slices.Sort(keys)
	return keys, nil
}

// Delete implements Store. The content type goes first, so that a crash in between leaves an
// object without its content type (read as ""), never a content type without its object.
func (d *Dir) Delete(ctx context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, f := range []string{filepath.Join(d.root, metaDir, filepath.FromSlash(key)), p} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("docstore delete %s: %w", key, err)
		}
	}
	return nil
}
