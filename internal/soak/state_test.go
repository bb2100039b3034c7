package soak

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/config"
)

func TestStateRoundTrip(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/state")
	p, err := StatePath("soak-20261124T000000Z-abcdef")
	if err != nil || p != "/state/plimsoll/soak/soak-20261124T000000Z-abcdef.json" {
		t.Fatalf("StatePath = %q %v", p, err)
	}
	for _, bad := range []string{"", "../x", "a/b", ".hidden", strings.Repeat("x", 65)} {
		if _, err := StatePath(bad); err == nil {
			t.Errorf("StatePath(%q) accepted", bad)
		}
	}
	path := filepath.Join(t.TempDir(), "deep", "run.json")
	st := &State{RunID: "run-1", StartedAt: time.Date(2026, 11, 24, 17, 0, 0, 0, time.UTC),
		Soak: config.DefaultSoak(), Images: map[string]StateImage{"new": {Ref: "docker:app:2", Digest: "sha256:ab"}},
		Containers: map[string]string{"new": "c0ffee"}, Ports: map[string]int{"new": 8080}, Store: "/x.db", PID: 42}
	if err := WriteState(path, st); err != nil {
		t.Fatal(err)
	}
	got, err := ReadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.RunID != st.RunID || !got.StartedAt.Equal(st.StartedAt) || got.Soak.Limits != st.Soak.Limits ||
		got.Ports["new"] != 8080 || got.Images["new"] != st.Images["new"] || got.PID != 42 {
		t.Errorf("read back %+v", got)
	}
	// Rewriting leaves no temporary file behind.
	st.Finished = true
	if err := WriteState(path, st); err != nil {
		t.Fatal(err)
	}
	if es, _ := os.ReadDir(filepath.Dir(path)); len(es) != 1 {
		t.Errorf("folder holds %d files", len(es))
	}
	if _, err := ReadState(filepath.Join(t.TempDir(), "none.json")); !errors.Is(err, ErrNoState) {
		t.Errorf("missing file: %v", err)
	}
	if err := os.WriteFile(path, []byte(`{"version":1,"runId":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadState(path); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Errorf("incomplete state: %v", err)
	}
}

// TestResumeRefusals: a finished soak, or one its process still runs, is not resumed.
func TestResumeRefusals(t *testing.T) {
	st := &State{RunID: "r", Finished: true, Decision: "GO"}
	if _, err := Run(t.Context(), Options{Resume: st}); !errors.Is(err, ErrFinished) {
		t.Errorf("finished: %v", err)
	}
	st = &State{RunID: "r", PID: os.Getppid()}
	if _, err := Run(t.Context(), Options{Resume: st}); !errors.Is(err, ErrStillRunning) {
		t.Errorf("still running: %v", err)
	}
	st = &State{RunID: "r"}
	if _, err := Run(t.Context(), Options{Resume: st}); err == nil || !strings.Contains(err.Error(), "needs the store") {
		t.Errorf("resumed without a store: %v", err)
	}
}
