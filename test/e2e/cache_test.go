package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/plimsoll/plimsoll/internal/testenv"
)

// TestWarmCacheConfirmsLayers: a check whose NEW is an OCI layout with a deleted layer blob is
// a tool error (exit 1, no report) on a warm cache as on a cold one: the cache stands in for
// reading the layers, not for having them.
func TestWarmCacheConfirmsLayers(t *testing.T) {
	dir := t.TempDir()
	oldDir, newDir := filepath.Join(dir, "old"), filepath.Join(dir, "new")
	for d, v := range map[string]string{oldDir: "3.19.4", newDir: "3.20.3"} {
		lp, err := layout.Write(d, empty.Index)
		if err != nil {
			t.Fatal(err)
		}
		if err := lp.AppendImage(testenv.AlpineImage(t, v)); err != nil {
			t.Fatal(err)
		}
	}
	db := buildVulnDB(t, alpineAdvisories)
	cache := t.TempDir()
	check := func(out string) result {
		return plimsoll(t, "check", "oci-dir:"+oldDir, "oci-dir:"+newDir, "--layers", "1", "--vuln-db", db,
			"--cache-dir", cache, "--report-dir", out, "--no-progress")
	}
	warm := filepath.Join(dir, "warm")
	if r := check(warm); r.code != 20 && r.code != 10 && r.code != 0 {
		t.Fatalf("warming the cache: exit %d", r.code)
	}
	layers, err := testenv.AlpineImage(t, "3.20.3").Layers()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := layers[0].Digest()
	if err := os.Remove(filepath.Join(newDir, "blobs", d.Algorithm, d.Hex)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "after")
	r := check(out)
	if r.code != 1 {
		t.Errorf("warm cache, NEW missing layer %s: exit %d, want 1", d, r.code)
	}
	oneLine(t, r, d.Hex)
	if _, err := os.Stat(filepath.Join(out, "summary.json")); err == nil {
		t.Error("a report was written for an image that cannot be read")
	}
}
