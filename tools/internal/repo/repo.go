// Package repo finds the root of the CSI checkout: the directory that holds go.work.
package repo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrNotFound is returned when no directory above the start holds go.work.
var ErrNotFound = errors.New("no go.work found in this directory or above: run from inside the CSI repository")

// Root walks up from start (the working directory when empty) to the first directory holding
// go.work and returns it.
func Root(start string) (string, error) {
	if start == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("working directory: %w", err)
		}
		start = wd
	}
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", fmt.Errorf("absolute path of %s: %w", start, err)
	}
	for {
		if fi, err := os.Stat(filepath.Join(dir, "go.work")); err == nil && !fi.IsDir() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNotFound
		}
		dir = parent
	}
}
