package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/plimsoll/plimsoll/internal/testenv"
)

// TestRelativeStorePath records a run in `--store runs.db`, a path relative to the working
// directory, and reads it back from there.
func TestRelativeStorePath(t *testing.T) {
	img := t.TempDir()
	lp, err := layout.Write(img, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(testenv.AlpineImage(t, "3.20.3")); err != nil {
		t.Fatal(err)
	}
	ref := "oci-dir:" + img
	wd := t.TempDir()
	out := filepath.Join(wd, "report")
	r := plimsollIn(t, wd, "check", ref, ref, "--report-dir", out, "--no-progress", "--store", "runs.db")
	if r.code != 0 {
		t.Fatalf("exit %d, want 0 (same digest)", r.code)
	}
	if strings.Contains(r.stderr, "sqlite") || strings.Contains(r.stderr, "store") {
		t.Errorf("check warned about the store:\n%s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(wd, "runs.db")); err != nil {
		t.Fatalf("runs.db is not in the working directory: %v", err)
	}
	id := summary(t, out)["runId"].(string)
	list := plimsollIn(t, wd, "runs", "--store", "runs.db", "-o", "json")
	if list.code != 0 || !strings.Contains(list.stdout, id) {
		t.Errorf("runs --store runs.db does not list run %s (exit %d):\n%s", id, list.code, list.stdout)
	}
}
