package cli

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/ledger"
	"github.com/plimsoll/plimsoll/internal/patches"
	"github.com/plimsoll/plimsoll/internal/patches/patchestest"
	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/sqlite"
	"github.com/plimsoll/plimsoll/internal/testenv"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// TestPatchesApply runs `plimsoll patches --apply` end to end against a loopback registry:
// base/alpine's patch is GO and its Dockerfile is rewritten; bad/alpine's patch brings a
// critical vulnerability, is NO-GO, and its Dockerfile is left alone. Then the ledger reports it.
func TestPatchesApply(t *testing.T) {
	host := testenv.Registry(t, nil)
	line := patchestest.Images(t, time.Time{})
	base, bad := host+"/base/alpine", host+"/bad/alpine"
	old := patchestest.Push(t, base+":3.19.1", line.Old)
	patched := patchestest.Push(t, base+":3.19.4", line.Patched)
	patchestest.Push(t, bad+":3.19.1", line.Old)
	patchestest.Push(t, bad+":3.19.4", line.Bad)

	dir := t.TempDir()
	app, worker := filepath.Join(dir, "app", "Dockerfile"), filepath.Join(dir, "worker", "Dockerfile")
	workerText := "FROM " + bad + ":3.19.1@" + old + "\nUSER 65532\n"
	writeFile(t, app, "FROM "+base+":3.19.1@"+old+" AS build\nRUN true\n")
	writeFile(t, worker, workerText)
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	writeFile(t, pol, "apiVersion: plimsoll/v1\nkind: Policy\npatches:\n  layers: [diff]\n")
	db, st, reports := patchestest.VulnDB(t), filepath.Join(t.TempDir(), "plimsoll.db"), t.TempDir()
	common := []string{"-p", pol, "--vuln-db", db, "--store", st, "--cache-dir", t.TempDir()}

	// --in-place and --rebuild=false: the image pair decides for every reference, as
	// before services were rebuilt (test/e2e covers the rebuild and the branches).
	out, stderr, err := execute(t, append([]string{"patches", "--apply", "--in-place", "--rebuild=false", "-o", "json", "--report-dir", reports}, append(common, dir)...)...)
	var d *DecisionError
	if !errors.As(err, &d) || d.Decision != verdict.NoGo {
		t.Fatalf("patches --apply: err = %v, want NO-GO (exit 20)\nstderr: %s\nstdout: %s", err, stderr, out)
	}
	var rep patches.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	outcomes := map[string]*patches.Outcome{}
	for _, im := range rep.Images {
		outcomes[im.Repository] = im.Outcome
	}
	if o := outcomes[base]; o == nil || !o.Applied || o.Decision != verdict.Go {
		t.Errorf("base/alpine outcome %+v, want applied on GO", o)
	}
	if o := outcomes[bad]; o == nil || o.Applied || o.Decision != verdict.NoGo || !strings.Contains(o.Reason, "NO-GO") {
		t.Errorf("bad/alpine outcome %+v, want NO-GO, not applied", o)
	}
	if got := readFile(t, app); got != "FROM "+base+":3.19.4@"+patched+" AS build\nRUN true\n" {
		t.Errorf("app/Dockerfile after --apply:\n%s", got)
	}
	if got := readFile(t, worker); got != workerText {
		t.Errorf("worker/Dockerfile changed on NO-GO:\n%s", got)
	}
	// The evidence: both checks' runs and reports, and the ledger.
	s, err := sqlite.Open(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runs, err := s.ListRuns(t.Context(), store.Filter{})
	if err != nil || len(runs) != 2 {
		t.Errorf("runs recorded: %d, %v; want 2", len(runs), err)
	}
	for _, r := range runs {
		if _, err := os.Stat(filepath.Join(reports, r.ID, "summary.json")); err != nil {
			t.Errorf("reports of run %s: %v", r.ID, err)
		}
	}
	kinds := map[store.PatchKind]int{}
	evs, err := s.PatchEvents(t.Context(), store.PatchFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		kinds[e.Kind]++
	}
	if kinds[store.PatchSeen] != 2 || kinds[store.PatchChecked] != 2 || kinds[store.PatchApplied] != 1 {
		t.Errorf("ledger events by kind %v, want 2 seen, 2 checked, 1 applied", kinds)
	}

	// Again without --apply: base/alpine is up to date, bad/alpine's patch still pending.
	out, _, err = execute(t, append([]string{"patches"}, append(common, dir)...)...)
	if !errors.As(err, &d) || d.Decision != verdict.Caution {
		t.Errorf("patches after --apply: err = %v, want CAUTION (exit 10: pending)\n%s", err, out)
	}
	t.Logf("plimsoll patches after --apply:\n%s", out)
	if !strings.Contains(out, "up to date") || !strings.Contains(out, "eligible: "+bad+":3.19.4@") {
		t.Errorf("patches after --apply:\n%s", out)
	}

	out, _, _ = execute(t, "ledger", "--store", st, dir)
	t.Logf("plimsoll ledger:\n%s", out)
	out, stderr, err = execute(t, "ledger", "--store", st, "-o", "json", dir)
	if err != nil {
		t.Fatalf("ledger: %v\n%s", err, stderr)
	}
	var lr ledger.Report
	if err := json.Unmarshal([]byte(out), &lr); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if lr.Applied != 1 || lr.Timed != 1 || len(lr.Changelog) != 3 || len(lr.Adoption) != 1 ||
		lr.Adoption[0].OnNewest != 1 || lr.Adoption[0].Total != 1 {
		t.Errorf("ledger: applied %d, timed %d, changelog %d, adoption %+v; want 1, 1, 3, base/alpine 1 of 1",
			lr.Applied, lr.Timed, len(lr.Changelog), lr.Adoption)
	}

	// Owners: worker/ belongs to @org/workers by CODEOWNERS; its patch (high, seen just now) is
	// open and within its SLA. A CODEOWNERS file in another format is a usage error.
	writeFile(t, filepath.Join(dir, ".github", "CODEOWNERS"), "* @org/platform\n/worker/ @org/workers\n")
	out, stderr, err = execute(t, "ledger", "--store", st, "-o", "json", dir)
	if err != nil {
		t.Fatalf("ledger: %v\n%s", err, stderr)
	}
	lr = ledger.Report{}
	if err := json.Unmarshal([]byte(out), &lr); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(lr.ByOwner) != 1 || lr.ByOwner[0].Owner != "@org/workers" || lr.ByOwner[0].Severity != scan.High ||
		lr.ByOwner[0].Open != 1 || lr.ByOwner[0].Breaches != 0 {
		t.Errorf("ledger by owner: %+v, want @org/workers 1 high open, no breach", lr.ByOwner)
	}
	writeFile(t, filepath.Join(dir, ".github", "CODEOWNERS"), "[Backend]\n/worker/ @org/workers\n")
	if _, _, err := execute(t, "ledger", "--store", st, dir); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "CODEOWNERS:1") {
		t.Errorf("ledger with a GitLab CODEOWNERS: %v, want a usage error naming CODEOWNERS:1", err)
	}
}

func TestPatchesUsage(t *testing.T) {
	for _, args := range [][]string{
		{"patches", "-o", "yaml"},
		{"patches", "--except", "3.19.4"},
		{"patches", "--build-arg", "NOVALUE"},
		{"patches", "--apply", "--branch", "--in-place", t.TempDir()},
		{"patches", "--apply", t.TempDir()}, // --branch (the default) outside a Git work tree
		{"patches", "--store", "mysql://x", t.TempDir()},
		{"ledger", "--since", "last tuesday"},
		{"ledger", "-o", "html"},
		{"ledger", "--regression-window", "-1h"},
		{"ledger", "--store", "none"},
	} {
		if _, _, err := execute(t, args...); !errors.Is(err, ErrUsage) {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPatchesApplyDirtyTree: --apply (branches) in a work tree with uncommitted changes is
// refused with one line, before any registry is read, and nothing changes.
func TestPatchesApplyDirtyTree(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	df := filepath.Join(dir, "app", "Dockerfile")
	writeFile(t, df, "FROM 127.0.0.1:1/base/alpine:3.19.1\n")
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-q", "-m", "x"}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	writeFile(t, df, "FROM 127.0.0.1:1/base/alpine:3.19.2\n")
	_, _, err := execute(t, "patches", "--apply", "--store", "none", dir)
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "uncommitted changes (app/Dockerfile)") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("patches --apply on a dirty tree: %v, want one usage line naming app/Dockerfile", err)
	}
	if got := readFile(t, df); got != "FROM 127.0.0.1:1/base/alpine:3.19.2\n" {
		t.Errorf("Dockerfile changed: %q", got)
	}
}
