package soak

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestPlotsGolden draws a fixed outcome and compares the SVG with testdata/*.svg (rewritten
// with -update).
func TestPlotsGolden(t *testing.T) {
	const mb = 1 << 20
	rec := func(rate float64, fails ...int) *Recording {
		r := &Recording{
			RSS: gen(20, func(i int) float64 { return 10*mb + float64(i)*rate }),
			FDs: gen(20, func(i int) float64 { return 10 + float64(i%3) }),
		}
		r.Health = gen(20, func(i int) float64 {
			for _, f := range fails {
				if f == i {
					return 0
				}
			}
			return 1
		})
		return r
	}
	o := &Outcome{Recordings: map[string]*Recording{"old": rec(0), "new": rec(200e3, 7)},
		Window: Window{Warmup: 5 * time.Second, Duration: 20 * time.Second}}
	dir := t.TempDir()
	files, err := WritePlots(dir, o)
	if err != nil || len(files) != 3 {
		t.Fatalf("WritePlots: %v %v", files, err)
	}
	for _, f := range files {
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", filepath.Base(f))
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (run with -update after checking it):\n%s", f, golden, got)
		}
	}
}
