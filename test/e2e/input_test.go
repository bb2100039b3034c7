package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/plimsoll/plimsoll/internal/testenv"
)

// oneLine asserts that stderr is exactly one line starting with "plimsoll:" and containing want.
func oneLine(t *testing.T, r result, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "plimsoll: ") {
		t.Errorf("stderr is not one plimsoll: line:\n%s", r.stderr)
	}
	if !strings.Contains(strings.ToLower(r.stderr), strings.ToLower(want)) {
		t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	alpine := testenv.AlpineImage(t, "3.20.3")
	lp, err := layout.Write(filepath.Join(dir, "oci"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(alpine); err != nil {
		t.Fatal(err)
	}
	good := "oci-dir:" + filepath.Join(dir, "oci")
	corrupt := filepath.Join(dir, "corrupt.tar")
	if err := os.WriteFile(corrupt, []byte("this is not a tarball"), 0o644); err != nil {
		t.Fatal(err)
	}
	badPolicy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(badPolicy, []byte("apiVersion: plimsoll/v1\nkind: Policy\nvulnerabilities:\n  failOn: dreadful\n  nonsense: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := testenv.Registry(t, nil)
	tests := []struct {
		name string
		args []string
		env  []string
		code int
		says string
	}{
		{"no image", []string{"check"}, nil, 2, "accepts between 1 and 2 arg"},
		{"three images", []string{"check", "a", "b", "c"}, nil, 2, "accepts between 1 and 2 arg"},
		{"unknown flag", []string{"check", "--frobnicate", good, good}, nil, 2, "unknown flag"},
		{"unknown layer", []string{"check", "--layers", "9", good, good}, nil, 2, "unknown layer"},
		{"unknown output", []string{"check", "-o", "yaml", good, good}, nil, 2, "--output"},
		{"malformed policy", []string{"check", "--policy", badPolicy, good, good}, nil, 2, "failOn"},
		{"missing policy", []string{"check", "--policy", filepath.Join(dir, "nope.yaml"), good, good}, nil, 2, "nope.yaml"},
		{"malformed reference", []string{"check", good, "registry:UPPER/Case::bad"}, nil, 2, "UPPER/Case::bad"},
		{"missing layout", []string{"check", "oci-dir:" + filepath.Join(dir, "nope"), good}, nil, 1, "nope"},
		{"corrupt tarball", []string{"check", "docker-archive:" + corrupt, good}, nil, 1, "corrupt.tar"},
		{"missing image in registry", []string{"check", "registry:" + reg + "/nope:1", good}, nil, 1, "nope"},
		{"no docker engine", []string{"check", "docker:alpine:3.20.3", good}, []string{"DOCKER_HOST=unix://" + filepath.Join(dir, "no.sock")}, 1, "docker"},
		{"vulndb without --out", []string{"vulndb", "build", badPolicy}, nil, 2, "--out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Env = append(os.Environ(), tt.env...)
			var r result
			out, err := cmd.Output()
			r.stdout = string(out)
			if ee, ok := err.(*exec.ExitError); ok {
				r.code, r.stderr = ee.ExitCode(), string(ee.Stderr)
			} else if err != nil {
				t.Fatal(err)
			}
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstderr: %s", r.code, tt.code, r.stderr)
			}
			oneLine(t, r, tt.says)
		})
	}
}

func TestNoVulnerabilityDatabaseIsAnError(t *testing.T) {
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
	out := t.TempDir()
	r := plimsoll(t, "check", "oci-dir:"+dir+":3.19.4", "oci-dir:"+dir+":3.20.3", "--layers", "1",
		"--vuln-db", filepath.Join(out, "no-db"), "--report-dir", out, "--no-progress")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (could not decide)", r.code)
	}
	sum := summary(t, out)
	if d := get(t, sum, "verdict", "decision"); d != "ERROR" {
		t.Errorf("decision = %v, want ERROR", d)
	}
	vu := result1(t, sum, "vulnerabilities")
	if vu["status"] != "error" || !strings.Contains(vu["message"].(string), "--vuln-db") {
		t.Errorf("vulnerabilities: %v %q: want an error that says how to point at a database", vu["status"], vu["message"])
	}
}

func TestSameDigestAndFirstDeployment(t *testing.T) {
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(testenv.AlpineImage(t, "3.20.3")); err != nil {
		t.Fatal(err)
	}
	ref := "oci-dir:" + dir
	out := t.TempDir()
	history := filepath.Join(t.TempDir(), "runs.db")
	r := plimsoll(t, "check", ref, ref, "--report-dir", out, "--no-progress", "--store", history)
	if r.code != 0 {
		t.Fatalf("same digest: exit %d, want 0", r.code)
	}
	sum := summary(t, out)
	// The run is in the history, and reads back as the same report.
	list := plimsoll(t, "runs", "--store", history, "-o", "json")
	if list.code != 0 || !strings.Contains(list.stdout, sum["runId"].(string)) || !strings.Contains(list.stdout, `"decision": "GO"`) {
		t.Errorf("runs does not list the run %v:\n%s", sum["runId"], list.stdout)
	}
	shown := plimsoll(t, "runs", "--store", history, "-o", "json", sum["runId"].(string))
	var back map[string]any
	if err := json.Unmarshal([]byte(shown.stdout), &back); err != nil || back["runId"] != sum["runId"] || get(t, back, "plan", "kind") != "same-digest" {
		t.Errorf("runs %v: %v\n%s", sum["runId"], err, shown.stdout)
	}
	if k := get(t, sum, "plan", "kind"); k != "same-digest" {
		t.Errorf("plan kind = %v", k)
	}
	for _, l := range get(t, sum, "layers").([]any) {
		if s := l.(map[string]any)["state"]; s == "ran" {
			t.Errorf("a layer ran for the same digest: %v", l)
		}
	}

	db := buildVulnDB(t, alpineAdvisories)
	out = t.TempDir()
	r = plimsoll(t, "check", ref, "--vuln-db", db, "--layers", "diff", "--report-dir", out, "--no-progress")
	sum = summary(t, out)
	if k := get(t, sum, "plan", "kind"); k != "custom" {
		t.Errorf("first deployment plan kind = %v", k)
	}
	if get(t, sum, "old") != nil {
		t.Errorf("first deployment has an old image: %v", get(t, sum, "old"))
	}
	// Alone, Alpine 3.20.3 has CVE-2099-0002 (high) twice: new findings at or above high → NO-GO.
	if r.code != 20 {
		t.Errorf("first deployment: exit %d, want 20", r.code)
	}
}
