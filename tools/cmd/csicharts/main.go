// Command csicharts writes into the Helm charts what they take from the rest of the
// repository, since Helm reads nothing outside a chart:
//
//	go run ./tools/cmd/csicharts          write what is out of date (make charts-sync)
//	go run ./tools/cmd/csicharts -check   only report it; exit status 1 when anything is (make lint, charts/test)
//
// From services/services.tsv: the library chart's table of the services and their ports
// (charts/common/templates/_services.tpl) and each service chart's service.port (values.yaml,
// that one line). From charts/common/schema/service.json, the schema every service chart
// shares, plus the chart's own charts/<name>/values.schema.additions.json: each service chart's
// values.schema.json. From charts/csi/values.schema.base.json and the service list: the
// umbrella chart's values.schema.json. Every service of the list must have its chart.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/csi-lombardia/csi/tools/internal/repo"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "csicharts:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("csicharts", flag.ContinueOnError)
	check := fs.Bool("check", false, "report the files that are out of date instead of writing them")
	rootFlag := fs.String("root", "", "the repository (default: the checkout around the working directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root, err := repo.Root(*rootFlag)
	if err != nil {
		return err
	}
	files, err := generate(root)
	if err != nil {
		return err
	}
	var stale []string
	for _, f := range files {
		path := filepath.Join(root, f.path)
		old, err := os.ReadFile(path)
		if err == nil && bytes.Equal(old, f.data) {
			continue
		}
		stale = append(stale, f.path)
		if *check {
			continue
		}
		if err := os.WriteFile(path, f.data, 0o644); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "wrote", f.path)
	}
	if *check && len(stale) > 0 {
		for _, p := range stale {
			fmt.Fprintln(stdout, "out of date:", p)
		}
		return fmt.Errorf("%d chart files do not match services/services.tsv and the schema parts: run make charts-sync (go run ./tools/cmd/csicharts) and commit the result", len(stale))
	}
	if *check {
		fmt.Fprintf(stdout, "csicharts: the %d generated chart files match services/services.tsv and the schema parts\n", len(files))
	}
	return nil
}
