// Command csisynth writes synthetic population-register extracts, one CSV file per comune in
// the registry's import format (POST /v1/imports?istat_code=...), deterministic for a seed:
//
//	csisynth -scale ambito -out .run/synth            # the demo ambito's 8 comuni, 190,000 people
//	csisynth -scale region -out .run/synth-region     # 90 ambiti of 8 comuni, 1,000,000 people
//	csisynth -citizens 1000000 -comuni 10 -out .run/synth-1m  # one ambito of 10 comuni, a million people
//
// Files are named <ambito number>-<ISTAT code>.csv (ambito 01 at the ambito scale).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/tools/internal/synth"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "csisynth:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("csisynth", flag.ContinueOnError)
	scale := fs.String("scale", "ambito", "ambito (8 comuni, 190,000 people) or region (90 ambiti, 1,000,000 people)")
	citizens := fs.Int("citizens", 0, "people in all (default: the scale's)")
	seed := fs.Uint64("seed", 1, "seed: the same seed gives the same people")
	ncomuni := fs.Int("comuni", 0, "one ambito of this many comuni of Lombardy (of equal size) instead of the scale's")
	out := fs.String("out", "", "directory to write the extracts to (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("-out is required")
	}
	cat := places.Default()
	var sc synth.Scale
	var ambiti [][]synth.Comune
	switch *scale {
	case "ambito":
		sc = synth.AmbitoScale
		comuni, err := synth.DemoComuni(cat)
		if err != nil {
			return err
		}
		ambiti = [][]synth.Comune{comuni}
	case "region":
		sc = synth.RegionScale
		comuni, err := synth.Lombard(cat, sc.Ambiti*sc.ComuniPerAmbito)
		if err != nil {
			return err
		}
		for i := 0; i < sc.Ambiti; i++ {
			ambiti = append(ambiti, comuni[i*sc.ComuniPerAmbito:(i+1)*sc.ComuniPerAmbito])
		}
	default:
		return fmt.Errorf("-scale must be ambito or region, not %q", *scale)
	}
	if *citizens > 0 {
		sc.Citizens = *citizens
	}
	if *ncomuni > 0 {
		comuni, err := synth.Lombard(cat, *ncomuni)
		if err != nil {
			return err
		}
		ambiti = [][]synth.Comune{comuni}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	start := time.Now()
	perAmbito := synth.Apportion(sc.Citizens, make1(len(ambiti)))
	total := 0
	for a, comuni := range ambiti {
		// One generator per ambito: codes are unique within an ambito's registry.
		g := synth.New(*seed+uint64(a), cat, synth.Epoch)
		people, err := g.Ambito(comuni, perAmbito[a])
		if err != nil {
			return err
		}
		for i, c := range comuni {
			path := filepath.Join(*out, fmt.Sprintf("%02d-%s.csv", a+1, c.ISTAT))
			if err := write(path, people[i]); err != nil {
				return err
			}
			total += len(people[i])
		}
	}
	fmt.Fprintf(os.Stderr, "csisynth: %d people of %d ambiti written to %s in %s\n", total, len(ambiti), *out, time.Since(start).Round(time.Millisecond))
	return nil
}

func make1(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

func write(path string, people []synth.Person) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := synth.WriteCSV(w, people); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
