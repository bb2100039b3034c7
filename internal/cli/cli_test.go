package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/gate"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

func execute(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Execute(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"check"}, {"check", "a", "b", "c"}, {"check", "--nope", "x"}, {"check", "--layers", "0", "x"},
		{"check", "-o", "junit", "x"}, {"check", "--budget", "soon", "x"}, {"check", "--soak", "-1h", "x"}, {"plan"}, {"plan", "-o", "yaml", "x"},
		{"version", "extra"}, {"vulndb", "build", "x"}, {"gc", "extra"},
		{"check", "--policy", filepath.Join(t.TempDir(), "missing.yaml"), "x"},
		{"check", "--old-vulns", filepath.Join(t.TempDir(), "missing.json"), "x"},
	} {
		_, _, err := execute(t, args...)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
	}
}

func TestVersion(t *testing.T) {
	out, _, err := execute(t, "version")
	if err != nil || !regexp.MustCompile(`^plimsoll \S+\n$`).MatchString(out) {
		t.Errorf("version = %q, %v", out, err)
	}
}

func TestPlan(t *testing.T) {
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"3.19.4", "3.20.3"} {
		if err := lp.AppendImage(testenv.AlpineImage(t, v), layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": v})); err != nil {
			t.Fatal(err)
		}
	}
	old, new := "oci-dir:"+dir+":3.19.4", "oci-dir:"+dir+":3.20.3"
	cache := "--cache-dir=" + t.TempDir()
	out, _, err := execute(t, "plan", old, new, cache)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"upgrade:   distro (risk high)", "layers:    L1 diff, L2 smoke, L3 functional, L4 perf, L5 harden, L6 soak", "musl"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	// The other way is a downgrade, said as one, never "a new release".
	out, _, err = execute(t, "plan", new, old, cache)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"os-release alpine 3.20.3→3.19.4, a downgrade to an older release (distro)",
		"musl 1.2.5-r0→1.2.4_git20230717-r4: a downgrade to an older patch release (patch)",
		"OpenSSL 3.3.2-r0→3.1.7-r0: a downgrade to an older minor release (minor)", "the verdict is at least CAUTION"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan of the downgrade lacks %q:\n%s", want, out)
		}
	}
	out, _, err = execute(t, "plan", "-o", "json", old, new, cache)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Old, New struct{ Digest string }
		Plan     struct {
			Kind   string
			Layers []int
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("plan -o json: %v\n%s", err, out)
	}
	if got.Plan.Kind != "distro" || len(got.Plan.Layers) != 6 || got.Old.Digest == got.New.Digest || got.New.Digest == "" {
		t.Errorf("plan json = %+v", got)
	}
}

func TestParseLayers(t *testing.T) {
	got, err := parseLayers([]string{"1,harden", "L2"})
	if err != nil || len(got) != 3 || got[0] != check.L1Diff || got[1] != check.L5Harden || got[2] != check.L2Smoke {
		t.Errorf("parseLayers = %v, %v", got, err)
	}
	if got, err := parseLayers(nil); got != nil || err != nil {
		t.Errorf("no --layers = %v, %v; want nil: the plan as it is", got, err)
	}
}

func TestRunID(t *testing.T) {
	id := newRunID(time.Date(2026, 11, 24, 14, 5, 6, 0, time.UTC))
	if !regexp.MustCompile(`^20261124T140506Z-[0-9a-f]{6}$`).MatchString(id) {
		t.Errorf("run id %q", id)
	}
}

func TestProgressPlainLines(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b) // a buffer is no terminal: plain lines only
	p.event(gate.Event{Kind: gate.EventPlanned, Message: "patch upgrade"})
	p.event(gate.Event{Kind: gate.EventCheckStart, Layer: check.L1Diff, Check: "packages", Index: 1, Total: 3})
	p.event(gate.Event{Kind: gate.EventCheckDone, Layer: check.L1Diff, Check: "packages", Status: check.StatusWarn, Index: 1, Total: 3, Elapsed: 1234 * time.Millisecond})
	p.event(gate.Event{Kind: gate.EventLayerDone, Layer: check.L4Perf, Message: "not available in this build of plimsoll"})
	want := "plan: patch upgrade\n" +
		"L1 diff        [###.......] 1/3 packages         WARN         1.23s\n" +
		"L4 perf        not available in this build of plimsoll\n"
	if b.String() != want {
		t.Errorf("progress:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestProfile: --profile writes a CPU and a heap profile of the command, each a gzipped pprof
// protobuf, and leaves the command's outcome alone.
func TestProfile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "prof")
	out, _, err := execute(t, "version", "--profile", dir)
	if err != nil || !strings.HasPrefix(out, "plimsoll ") {
		t.Fatalf("version --profile: %q, %v", out, err)
	}
	for _, name := range []string{"cpu.pprof", "heap.pprof"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("%s is not a gzipped profile (%d bytes)", name, len(b))
		}
	}
	if _, _, err := execute(t, "version", "--profile", filepath.Join(dir, "cpu.pprof")); !errors.Is(err, ErrUsage) {
		t.Errorf("--profile naming a file: err = %v, want a usage error", err)
	}
}

// TestServeRefusesWeakTokens: a token of spaces or of a few characters is refused before
// anything listens, with the reason.
func TestServeRefusesWeakTokens(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--addr", "0.0.0.0:0", "--token", " "},
		{"serve", "--addr", "0.0.0.0:0", "--token", "                    "},
		{"serve", "--addr", "127.0.0.1:0", "--token", "short"},
	} {
		_, _, err := execute(t, args...)
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "at least 16") {
			t.Errorf("%q: err = %v, want a usage error saying a token needs at least 16 characters", args, err)
		}
	}
	t.Setenv("PLIMSOLL_SERVE_TOKEN", "\t")
	if _, _, err := execute(t, "serve", "--addr", "0.0.0.0:0"); !errors.Is(err, ErrUsage) {
		t.Errorf("$PLIMSOLL_SERVE_TOKEN of a tab: err = %v, want a usage error", err)
	}
}
