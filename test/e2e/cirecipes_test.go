package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/plimsoll/plimsoll/internal/testenv"
)

// readYAML reads a YAML file into generic values.
func readYAML(t *testing.T, rel string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), rel))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return m
}

// action is the parts of action.yml the tests read.
type action struct {
	Inputs map[string]struct {
		Default  string `json:"default"`
		Required bool   `json:"required"`
	} `json:"inputs"`
	Runs struct {
		Using string       `json:"using"`
		Steps []actionStep `json:"steps"`
	} `json:"runs"`
}

type actionStep struct {
	ID    string            `json:"id"`
	Name  string            `json:"name"`
	Uses  string            `json:"uses"`
	Run   string            `json:"run"`
	Shell string            `json:"shell"`
	If    string            `json:"if"`
	Env   map[string]string `json:"env"`
	With  map[string]string `json:"with"`
}

func readAction(t *testing.T) action {
	t.Helper()
	b, err := json.Marshal(readYAML(t, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a action
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func (a action) step(t *testing.T, id string) actionStep {
	t.Helper()
	for _, s := range a.Runs.Steps {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("action.yml has no step %q", id)
	return actionStep{}
}

var expr = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// TestActionYAML checks action.yml's shape: a composite action with the documented inputs,
// the steps the contract needs, and no ${{ }} expression inside a shell script (inputs reach
// scripts through env only).
func TestActionYAML(t *testing.T) {
	a := readAction(t)
	if a.Runs.Using != "composite" {
		t.Errorf("runs.using = %q", a.Runs.Using)
	}
	for _, in := range []string{"old_image", "new_image", "policy", "soak_hours", "layers", "fail_on_caution", "report_dir"} {
		if _, ok := a.Inputs[in]; !ok {
			t.Errorf("no input %s", in)
		}
	}
	if !a.Inputs["new_image"].Required || a.Inputs["fail_on_caution"].Default != "false" {
		t.Errorf("new_image must be required and fail_on_caution default to false")
	}
	uses := map[string]actionStep{}
	for _, s := range a.Runs.Steps {
		if s.Run != "" {
			if s.Shell != "bash" {
				t.Errorf("step %q: shell %q", s.Name, s.Shell)
			}
			if expr.MatchString(s.Run) {
				t.Errorf("step %q expands an expression inside its script", s.Name)
			}
		}
		if s.Uses != "" {
			uses[strings.Split(s.Uses, "@")[0]] = s
		}
	}
	for _, u := range []string{"actions/setup-go", "actions/upload-artifact", "actions/github-script", "github/codeql-action/upload-sarif"} {
		if _, ok := uses[u]; !ok {
			t.Errorf("no step uses %s", u)
		}
	}
	if s := uses["actions/github-script"].With["script"]; !strings.Contains(s, "<!-- plimsoll-report -->") || !strings.Contains(s, "updateComment") {
		t.Errorf("the PR comment step does not find and update its previous comment")
	}
	if s := uses["github/codeql-action/upload-sarif"].With["sarif_file"]; !strings.HasSuffix(s, "/vulnerabilities.sarif") {
		t.Errorf("upload-sarif file %q", s)
	}
	// The last step applies the exit-code contract.
	if last := a.Runs.Steps[len(a.Runs.Steps)-1]; last.ID != "gate" {
		t.Errorf("last step is %q, want the gate", last.ID)
	}
}

// runStep runs one run: step of action.yml as GitHub does (bash -eo pipefail), its env with
// ${{ }} expressions resolved from inputs (defaults filled in), steps' outputs and
// github.action_path. It returns the exit code and the step's outputs.
func runStep(t *testing.T, a action, s actionStep, inputs, outputs, env map[string]string, dir string) (int, map[string]string, string) {
	t.Helper()
	ghDir := t.TempDir()
	files := map[string]string{}
	for _, f := range []string{"GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STEP_SUMMARY"} {
		files[f] = filepath.Join(ghDir, f)
		if err := os.WriteFile(files[f], nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	resolve := func(e string) string {
		switch {
		case strings.HasPrefix(e, "inputs."):
			name := strings.TrimPrefix(e, "inputs.")
			in, ok := a.Inputs[name]
			if !ok {
				t.Fatalf("step %q reads unknown input %s", s.Name, name)
			}
			if v, ok := inputs[name]; ok {
				return v
			}
			return in.Default
		case e == "github.action_path":
			return repoRoot()
		case strings.HasPrefix(e, "steps."):
			v, ok := outputs[e]
			if !ok {
				t.Fatalf("step %q reads %s, which the test did not give", s.Name, e)
			}
			return v
		}
		t.Fatalf("step %q: expression %q not known to the test", s.Name, e)
		return ""
	}
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", s.Run)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "RUNNER_TEMP="+ghDir)
	for k, v := range files {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range s.Env {
		v = expr.ReplaceAllStringFunc(v, func(m string) string { return resolve(expr.FindStringSubmatch(m)[1]) })
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("step %q: %v", s.Name, err)
		}
		code = ee.ExitCode()
	}
	t.Logf("step %q exited %d:\n%s", s.Name, code, out)
	got := map[string]string{}
	for _, f := range []string{"GITHUB_OUTPUT", "GITHUB_ENV"} {
		b, err := os.ReadFile(files[f])
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				got[k] = v
			}
		}
	}
	summary, err := os.ReadFile(files["GITHUB_STEP_SUMMARY"])
	if err != nil {
		t.Fatal(err)
	}
	return code, got, string(summary)
}

// TestActionGateFollowsTheExitCodeContract runs the gate step on every exit code.
func TestActionGateFollowsTheExitCodeContract(t *testing.T) {
	a := readAction(t)
	gate := a.step(t, "gate")
	for _, tc := range []struct {
		code, failOnCaution string
		fail                bool
	}{
		{"0", "false", false}, {"0", "true", false},
		{"10", "false", false}, {"10", "true", true},
		{"20", "false", true}, {"1", "false", true}, {"2", "false", true}, {"130", "false", true}, {"", "false", true},
	} {
		code, _, _ := runStep(t, a, gate, map[string]string{"fail_on_caution": tc.failOnCaution},
			map[string]string{"steps.check.outputs.exit_code": tc.code}, nil, t.TempDir())
		if (code != 0) != tc.fail {
			t.Errorf("exit code %q, fail_on_caution %s: step exited %d, want failure %v", tc.code, tc.failOnCaution, code, tc.fail)
		}
	}
}

// demoImages builds the demo images and their vulnerability database with scripts/demo.sh
// (narrowed to L1, which is all the demo needs to build) and returns the database directory.
func demoImages(t *testing.T) (vulndb string) {
	t.Helper()
	testenv.Docker(t)
	out := t.TempDir()
	vulndb = filepath.Join(out, "vulndb")
	cmd := exec.Command("bash", "scripts/demo.sh", "--layers", "1")
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "PLIMSOLL="+bin, "DEMO_REPORT_DIR="+filepath.Join(out, "report"), "DEMO_VULNDB="+vulndb)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("demo.sh: %v\n%s", err, b)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "plimsoll-demo:1.0.0", "plimsoll-demo:1.0.1").Run() })
	return vulndb
}

// TestCIRecipesOnTheDemoImages runs what action.yml and the GitLab template run — the action's
// build, check and summary steps, and the GitLab diff job's before_script and script — on the
// demo images, and opens the report.html they write in headless Chromium.
func TestCIRecipesOnTheDemoImages(t *testing.T) {
	vulndb := demoImages(t)
	policy := filepath.Join(repoRoot(), "demo", "policy.yaml")

	t.Run("action", func(t *testing.T) {
		a := readAction(t)
		work := t.TempDir()
		code, env, _ := runStep(t, a, a.step(t, "build"), nil, nil, nil, work)
		if code != 0 || env["PLIMSOLL"] == "" {
			t.Fatalf("build step exited %d, PLIMSOLL=%q", code, env["PLIMSOLL"])
		}
		reportDir := "reports"
		inputs := map[string]string{"old_image": "plimsoll-demo:1.0.0", "new_image": "plimsoll-demo:1.0.1",
			"policy": policy, "layers": "diff", "report_dir": reportDir, "args": "--vuln-db " + vulndb, "soak_hours": "1"}
		code, out, _ := runStep(t, a, a.step(t, "check"), inputs, nil, map[string]string{"PLIMSOLL": env["PLIMSOLL"]}, work)
		if code != 0 {
			t.Fatalf("check step exited %d: it must record plimsoll's exit code, not fail", code)
		}
		sum := readSummary(t, filepath.Join(work, reportDir))
		decision := sum["verdict"].(map[string]any)["decision"].(string)
		want := map[string]string{"GO": "0", "CAUTION": "10", "NO-GO": "20", "ERROR": "1"}[decision]
		if out["decision"] != decision || out["exit_code"] != want {
			t.Errorf("outputs %v, summary.json decision %s", out, decision)
		}
		for _, l := range sum["layers"].([]any) {
			lm := l.(map[string]any)
			if ran := lm["state"] == "ran"; ran != (lm["layer"].(float64) == 1) {
				t.Errorf("layer %v state %v with --layers diff", lm["layer"], lm["state"])
			}
		}
		for _, f := range []string{"summary.json", "junit.xml", "summary.md", "summary.txt", "report.html", "vulnerabilities.sarif"} {
			if _, err := os.Stat(filepath.Join(work, reportDir, f)); err != nil {
				t.Error(err)
			}
		}
		_, _, summary := runStep(t, a, stepNamed(t, a, "Write the job summary"), inputs,
			map[string]string{"steps.check.outputs.exit_code": out["exit_code"]}, nil, work)
		md, err := os.ReadFile(filepath.Join(work, reportDir, "summary.md"))
		if err != nil {
			t.Fatal(err)
		}
		if summary != string(md) {
			t.Errorf("job summary is not summary.md")
		}
		if _, err := os.Stat(chromiumPath); err == nil {
			checkLoadedReport(t, loadedDOM(t, filepath.Join(work, reportDir, "report.html")), decision)
		}
	})

	t.Run("gitlab", func(t *testing.T) {
		ci := readYAML(t, "ci/gitlab/plimsoll.gitlab-ci.yml")
		job := ci["plimsoll:diff"].(map[string]any)
		base := ci[job["extends"].(string)].(map[string]any)
		var script []string
		for _, k := range []string{"before_script", "script"} {
			for _, l := range base[k].([]any) {
				script = append(script, l.(string))
			}
		}
		work := t.TempDir()
		cmd := exec.Command("sh", "-ec", strings.Join(script, "\n"))
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
		for k, v := range ci["variables"].(map[string]any) {
			cmd.Env = append(cmd.Env, k+"="+v.(string))
		}
		for k, v := range job["variables"].(map[string]any) {
			cmd.Env = append(cmd.Env, k+"="+v.(string))
		}
		cmd.Env = append(cmd.Env, "PLIMSOLL_OLD_IMAGE=plimsoll-demo:1.0.0", "PLIMSOLL_NEW_IMAGE=plimsoll-demo:1.0.1",
			"PLIMSOLL_POLICY="+policy, "PLIMSOLL_ARGS=--vuln-db "+vulndb)
		b, err := cmd.CombinedOutput()
		t.Logf("plimsoll:diff:\n%s", b)
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		allowed := []int{0}
		for _, c := range base["allow_failure"].(map[string]any)["exit_codes"].([]any) {
			allowed = append(allowed, int(c.(float64)))
		}
		if !slices.Contains(allowed, code) {
			t.Errorf("plimsoll:diff exited %d, the job would fail (allowed %v)", code, allowed)
		}
		junit := job["artifacts"].(map[string]any)["reports"].(map[string]any)["junit"].(string)
		x, err := os.ReadFile(filepath.Join(work, junit))
		if err != nil {
			t.Fatalf("the job's JUnit report: %v", err)
		}
		if !bytes.Contains(x, []byte(`<testcase name="packages"`)) {
			t.Errorf("%s has no packages test case", junit)
		}
	})
}

func stepNamed(t *testing.T, a action, name string) actionStep {
	t.Helper()
	for _, s := range a.Runs.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("action.yml has no step named %q", name)
	return actionStep{}
}

func readSummary(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestGitLabTemplate checks the GitLab template's shape: the seed's stages, one job per stage
// running plimsoll check --layers for its layer, JUnit reports wired, the soak on schedules only.
func TestGitLabTemplate(t *testing.T) {
	ci := readYAML(t, "ci/gitlab/plimsoll.gitlab-ci.yml")
	var stages []string
	for _, s := range ci["stages"].([]any) {
		stages = append(stages, s.(string))
	}
	if strings.Join(stages, " ") != "diff smoke functional perf harden soak" {
		t.Errorf("stages %v", stages)
	}
	base := ci[".plimsoll-layer"].(map[string]any)
	script := base["script"].([]any)[0].(string)
	if !strings.Contains(script, `--layers "$PLIMSOLL_LAYER"`) || !strings.Contains(script, "plimsoll \"$@\"") {
		t.Errorf("the layer job does not run plimsoll check --layers:\n%s", script)
	}
	for _, stage := range stages {
		var jobs []string
		for name, v := range ci {
			job, ok := v.(map[string]any)
			if !ok || job["stage"] != stage {
				continue
			}
			jobs = append(jobs, name)
			if job["extends"] != ".plimsoll-layer" {
				t.Errorf("%s does not extend .plimsoll-layer", name)
			}
			if l := job["variables"].(map[string]any)["PLIMSOLL_LAYER"]; l != stage {
				t.Errorf("%s runs layer %v", name, l)
			}
			junit, _ := job["artifacts"].(map[string]any)["reports"].(map[string]any)["junit"].(string)
			if want := ci["variables"].(map[string]any)["PLIMSOLL_REPORT_DIR"].(string) + "/" + stage + "/junit.xml"; junit != want {
				t.Errorf("%s junit report %q, want %q", name, junit, want)
			}
			rules, _ := json.Marshal(job["rules"])
			if sched := strings.Contains(string(rules), `$CI_PIPELINE_SOURCE == \"schedule\"`); sched != (stage == "soak") {
				t.Errorf("%s: runs on schedules only = %v", name, sched)
			}
		}
		if len(jobs) != 1 {
			t.Errorf("stage %s has jobs %v, want one", stage, jobs)
		}
	}
	if a := base["artifacts"].(map[string]any); a["when"] != "always" {
		t.Errorf("artifacts are not kept when the job fails")
	}
}
