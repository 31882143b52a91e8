package cache

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// benchValue is a typical cached read model.
type benchValue struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Comune   string   `json:"comune"`
	Services []string `json:"services"`
}

func benchGetOrLoadHit(b *testing.B, c Cache) {
	ctx := context.Background()
	want := benchValue{ID: "0190d9a2-6a63-7c3e-8f1e-1c2b3d4e5f60", Name: "Maria Bianchi", Comune: "015146", Services: []string{"SAD", "ADM"}}
	load := func(context.Context) (benchValue, error) { return want, nil }
	if _, err := GetOrLoad(ctx, c, "k", time.Minute, load); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := GetOrLoad(ctx, c, "k", time.Minute, load); err != nil {
			b.Fatal(err)
		}
	}
	if got := testutilHits(c); got < float64(b.N) {
		b.Fatalf("%v hits for %d iterations: the benchmark did not measure hits", got, b.N)
	}
}

func BenchmarkGetOrLoadRedisHit(b *testing.B) {
	client := newTestClient(b)
	benchGetOrLoadHit(b, NewRedis(client, uniqueNamespace(b, client)))
}

func BenchmarkGetOrLoadMemoryHit(b *testing.B) {
	benchGetOrLoadHit(b, NewMemory("bench", 100))
}

func testutilHits(c Cache) float64 {
	return testutil.ToFloat64(instrumentsOf(c).hits)
}

// benchGetOrLoadWithHit reads a 1.5 KB record served as the bytes that were cached (no JSON
// decoding per hit).
func benchGetOrLoadWithHit(b *testing.B, c Cache) {
	ctx := context.Background()
	val := bytes.Repeat([]byte("x"), 1500)
	load := func(context.Context) ([]byte, error) { return val, nil }
	if _, err := GetOrLoadWith(ctx, c, "k", time.Minute, framed, load); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := GetOrLoadWith(ctx, c, "k", time.Minute, framed, load); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetOrLoadWithRedisHit(b *testing.B) {
	client := newTestClient(b)
	benchGetOrLoadWithHit(b, NewRedis(client, uniqueNamespace(b, client)))
}

func BenchmarkGetOrLoadWithMemoryHit(b *testing.B) {
	benchGetOrLoadWithHit(b, NewMemory("bench", 100))
}
