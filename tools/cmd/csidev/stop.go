package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"syscall"
	"time"

	"github.com/csi-lombardia/csi/tools/internal/repo"
)

// stopCmd asks the csidev run of this checkout to stop (SIGTERM) and waits until it has.
func stopCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("csidev stop takes no arguments")
	}
	root, err := repo.Root("")
	if err != nil {
		return err
	}
	pidPath := filepath.Join(root, ".run", "csidev.pid")
	pid, alive := runningPID(pidPath)
	if !alive {
		fmt.Fprintln(stdout, "no csidev run is running for this checkout")
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("signal csidev (pid %d): %w", pid, err)
	}
	fmt.Fprintf(stdout, "stopping csidev (pid %d)...\n", pid)
	deadline := time.Now().Add(time.Minute)
	for {
		if _, alive := runningPID(pidPath); !alive {
			fmt.Fprintln(stdout, "stopped")
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("csidev (pid %d) is still running after a minute", pid)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
