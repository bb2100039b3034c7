package userstate

import (
	"os"
	"path/filepath"
	"testing"
)

// TestIsolate: after Isolate the default store is under the test's directory, and a write to the
// user's own store is reported.
func TestIsolate(t *testing.T) {
	user := t.TempDir()
	t.Setenv("XDG_STATE_HOME", user) // the "user's" state directory, for this test
	t.Setenv("PLIMSOLL_STORE", "sqlite:///elsewhere.db")
	verify, err := Isolate(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("XDG_STATE_HOME") == user || os.Getenv("PLIMSOLL_STORE") != "" {
		t.Fatalf("Isolate left XDG_STATE_HOME=%q PLIMSOLL_STORE=%q", os.Getenv("XDG_STATE_HOME"), os.Getenv("PLIMSOLL_STORE"))
	}
	if err := verify(); err != nil {
		t.Errorf("verify with nothing written = %v", err)
	}
	// A binary run without the isolated environment writes the user's history.
	db := filepath.Join(user, "plimsoll", "plimsoll.db")
	if err := os.MkdirAll(filepath.Dir(db), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db, []byte("run"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := verify(); err == nil {
		t.Errorf("verify after a write to %s = nil, want an error", db)
	}
}
