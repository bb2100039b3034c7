// Package e2e runs the plimsoll binary end to end against the real Docker engine, OCI layouts,
// docker-archive tarballs and an in-process registry on 127.0.0.1, on images built from the
// real Alpine root filesystems and from the demo app.
package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/plimsoll/plimsoll/internal/testenv/userstate"
)

// bin is the plimsoll binary under test, built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "plimsoll-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	verifyState, err := userstate.Isolate(filepath.Join(dir, "state")) // the run history of these tests
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	bin = filepath.Join(dir, "plimsoll")
	build := exec.Command("go", "build", "-o", bin, "./cmd/plimsoll")
	build.Dir = repoRoot()
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build plimsoll:", err)
		return 1
	}
	// Set after the build, which keeps the user's Go build cache (go build finds it through
	// XDG_CACHE_HOME too).
	// One cache for the whole run: tests that care about cold and warm runs name their own.
	os.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	code := m.Run()
	if err := verifyState(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		code = 1
	}
	return code
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// plimsoll runs the binary with args.
func plimsoll(t *testing.T, args ...string) result {
	t.Helper()
	return plimsollIn(t, "", args...)
}

// plimsollIn runs the binary with args in the working directory dir ("" for the test's own).
func plimsollIn(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("run plimsoll: %v", err)
	}
	t.Logf("plimsoll %s → exit %d\nstderr:\n%s", strings.Join(args, " "), r.code, r.stderr)
	return r
}

// summary reads summary.json of a report directory into a generic map.
func summary(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	return m
}

// get walks a decoded JSON value by keys and indexes ("plan", "kind").
func get(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %v: not an object", path)
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("at %v: not an array of more than %d", path, k)
			}
			v = a[k]
		}
	}
	return v
}
