package flaky

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSometimes fails on its first run in a fresh directory and passes afterwards.
func TestSometimes(t *testing.T) {
	mark := filepath.Join(os.Getenv("FLAKY_DIR"), "ran")
	if _, err := os.Stat(mark); err != nil {
		os.WriteFile(mark, nil, 0o644)
		t.Fatal("first run: connection refused")
	}
}

func TestAlways(t *testing.T) {}
