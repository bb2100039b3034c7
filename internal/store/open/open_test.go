package open_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/open"
)

func TestParse(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/state")
	tests := []struct {
		dsn      string
		kind     open.Kind
		arg      string
		bad      bool
		noSecret string
	}{
		{dsn: "", kind: open.SQLite, arg: "/state/plimsoll/plimsoll.db"},
		{dsn: "sqlite:///var/lib/plimsoll/runs.db", kind: open.SQLite, arg: "/var/lib/plimsoll/runs.db"},
		{dsn: "sqlite://localhost/var/runs.db", kind: open.SQLite, arg: "/var/runs.db"},
		{dsn: "/abs/runs.db", kind: open.SQLite, arg: "/abs/runs.db"},
		{dsn: "relative/runs.db", kind: open.SQLite, arg: "relative/runs.db"},
		{dsn: "postgres://u:pw@db.example.com:5432/plimsoll?sslmode=require", kind: open.Postgres, arg: "postgres://u:pw@db.example.com:5432/plimsoll?sslmode=require"},
		{dsn: "postgresql://db/plimsoll", kind: open.Postgres, arg: "postgresql://db/plimsoll"},
		{dsn: "sqlite:relative.db", bad: true},
		{dsn: "sqlite://otherhost/x.db", bad: true},
		{dsn: "sqlite:///x.db?mode=ro", bad: true},
		{dsn: "sqlite://", bad: true},
		{dsn: "mysql://u:hunter22@db/plimsoll", bad: true, noSecret: "hunter22"},
		{dsn: "host=db user=u password=hunter22", bad: true, noSecret: "hunter22"},
	}
	for _, tc := range tests {
		kind, arg, err := open.Parse(tc.dsn)
		if tc.bad {
			if !errors.Is(err, open.ErrBadDSN) {
				t.Errorf("Parse(%q) = %s %q %v, want ErrBadDSN", tc.dsn, kind, arg, err)
				continue
			}
			if !strings.Contains(err.Error(), "sqlite:///") {
				t.Errorf("Parse(%q): error %q does not name the accepted forms", tc.dsn, err)
			}
			if tc.noSecret != "" && strings.Contains(err.Error(), tc.noSecret) {
				t.Errorf("Parse(%q): error shows the password: %v", tc.dsn, err)
			}
			continue
		}
		if err != nil || kind != tc.kind || arg != tc.arg {
			t.Errorf("Parse(%q) = %s %q %v, want %s %q", tc.dsn, kind, arg, err, tc.kind, tc.arg)
		}
	}
}

// TestOpenSQLiteForms opens the same file through its three forms of DSN.
func TestOpenSQLiteForms(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	path := filepath.Join(state, "plimsoll", "plimsoll.db")
	for i, dsn := range []string{"", "sqlite://" + path, path} {
		s, err := open.Open(t.Context(), dsn)
		if err != nil {
			t.Fatalf("Open(%q): %v", dsn, err)
		}
		if err := s.AppendSamples(t.Context(), "soak", store.Sample{Time: time.Now(), Metric: "x", Value: float64(i)}); err != nil {
			t.Fatal(err)
		}
		ss, err := s.Samples(t.Context(), "soak", 0)
		if err != nil || len(ss) != i+1 {
			t.Errorf("Open(%q): %d samples (%v), want %d: not the same file", dsn, len(ss), err, i+1)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenBadDSN(t *testing.T) {
	if _, err := open.Open(t.Context(), "redis://localhost"); !errors.Is(err, open.ErrBadDSN) {
		t.Errorf("Open(redis://…) = %v, want ErrBadDSN", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "sqlite:///a.db", "postgres://u:p@h/d", "a.db", "sqlite:%zz", "host=x", "sqlite://[::1]/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		kind, arg, err := open.Parse(dsn)
		if err != nil {
			if !errors.Is(err, open.ErrBadDSN) {
				t.Fatalf("Parse(%q): error %v is not ErrBadDSN", dsn, err)
			}
			return
		}
		if dsn != "" && arg == "" {
			t.Fatalf("Parse(%q) = %s with an empty argument", dsn, kind)
		}
	})
}

// TestOpenRelativePath opens a SQLite file named relative to the working directory, as
// `--store runs.db` does, and finds it there.
func TestOpenRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, dsn := range []string{"runs.db", filepath.Join("sub", "runs.db"), "./runs.db"} {
		s, err := open.Open(t.Context(), dsn)
		if err != nil {
			t.Fatalf("Open(%q): %v", dsn, err)
		}
		if err := s.AppendSamples(t.Context(), "soak", store.Sample{Time: time.Now(), Metric: "x", Value: 1}); err != nil {
			t.Fatalf("Open(%q): append: %v", dsn, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"runs.db", filepath.Join("sub", "runs.db")} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s was not created in the working directory: %v", p, err)
		}
	}
	s, err := open.Open(t.Context(), filepath.Join(dir, "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ss, err := s.Samples(t.Context(), "soak", 0); err != nil || len(ss) != 2 {
		t.Errorf("runs.db and ./runs.db hold %d samples (%v), want 2: not the same file", len(ss), err)
	}
}
