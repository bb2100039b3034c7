package config

import (
	"fmt"
	"math"
	"path"
	"slices"
	"strings"
	"time"
)

// Functional tunes Layer 3: the application's own test suite, run against OLD and NEW. Zero
// fields take the values of DefaultFunctional when the layer runs.
//
// A suite runs one of two ways:
//
//   - Command: inside a one-shot container of the image under test, whose entrypoint is
//     replaced by Command (["/bin/sh", "-c", "cd /app && npm test -- --json"], or a shell-less
//     ["/app/tests.test", "-test.v"]), with the app's user, environment and limits.
//   - Runner: a separate test runner — a container of Runner.Image on the host's network, or,
//     without an image, a command on the host — run against the app, which is started as
//     app: says and reached on 127.0.0.1 only; the runner gets its address in APP_URL
//     ("http://127.0.0.1:49153"), APP_HOST and APP_PORT.
//
// The suite's report is read from ResultsFile (a path inside the container, or on the host for
// a host runner), copied out after the suite exits; without ResultsFile, from its stdout.
type Functional struct {
	// Command runs the suite inside a container of the image under test.
	Command []string `yaml:"command"`
	// Runner runs the suite beside the app instead of inside it; set either Command or Runner.
	Runner FunctionalRunner `yaml:"runner"`
	// ResultsFile is where the suite writes its report; "" reads the report from stdout.
	ResultsFile string `yaml:"resultsFile"`
	// Format is the report's format: junit, jest, mocha-json, gotest-json or tap; "" detects it.
	Format string `yaml:"format"`
	// Env is added to the suite's environment ("NODE_ENV=test").
	Env []string `yaml:"env"`
	// Timeout bounds one run of the suite on one image (default 10m).
	Timeout time.Duration `yaml:"timeout"`
	// Quarantine are known failures: test IDs, names, or patterns where "*" matches any text.
	// A quarantined test is reported but never counts against NEW.
	Quarantine []string `yaml:"quarantine"`
	// Reruns is how many more times the whole suite runs on an image while some of its tests
	// fail (default 0); a test that fails and then passes on a rerun is flaky, not broken.
	Reruns int `yaml:"reruns"`
	// Thresholds are the pass rates, in percent of the tests that ran on NEW, that decide.
	Thresholds FunctionalThresholds `yaml:"thresholds"`
}

// FunctionalRunner is a test runner separate from the image under test.
type FunctionalRunner struct {
	// Image is a runner image the container engine already holds (it is never pulled); ""
	// runs Command on the host.
	Image string `yaml:"image"`
	// Command is the runner's command: the image's entrypoint replaced, or the host program
	// and its arguments. Required for a host runner; with an image, "" keeps its own.
	Command []string `yaml:"command"`
}

// FunctionalThresholds are pass-rate lines in percent: above GO the suite passes, from NoGo to
// GO it is CAUTION, below NoGo it is NO-GO.
type FunctionalThresholds struct {
	GO   float64 `yaml:"go"`
	NoGo float64 `yaml:"noGo"`
}

// Limits of the functional section.
const (
	maxFunctionalReruns = 10
)

// DefaultFunctional is the seed's Layer 3: a 10 minute timeout per suite run, no reruns, GO
// above 99 % of tests passing, CAUTION from 95 % to 99 %, NO-GO below 95 %.
func DefaultFunctional() Functional {
	return Functional{
		Timeout:    10 * time.Minute,
		Thresholds: FunctionalThresholds{GO: 99, NoGo: 95},
	}
}

// WithDefaults returns f with every zero field taken from DefaultFunctional.
func (f Functional) WithDefaults() Functional {
	d := DefaultFunctional()
	if f.Timeout == 0 {
		f.Timeout = d.Timeout
	}
	if f.Thresholds.GO == 0 {
		f.Thresholds.GO = d.Thresholds.GO
	}
	if f.Thresholds.NoGo == 0 {
		f.Thresholds.NoGo = d.Thresholds.NoGo
	}
	return f
}

// Configured reports whether the policy names a suite to run.
func (f Functional) Configured() bool { return len(f.Command) > 0 || f.Runner.Set() }

// Set reports whether the policy names a runner.
func (r FunctionalRunner) Set() bool { return r.Image != "" || len(r.Command) > 0 }

// functionalFormats are the report formats of internal/testreport.
var functionalFormats = []string{"junit", "jest", "mocha-json", "gotest-json", "tap"}

func (f Functional) problems(p string) []*Problem {
	var ps []*Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, &Problem{Path: p + field, Msg: fmt.Sprintf(format, args...)})
	}
	if len(f.Command) > 0 && f.Runner.Set() {
		add(".runner", "set command (the suite inside the image) or runner (beside the app), not both")
	}
	if f.Command != nil && len(f.Command) == 0 {
		add(".command", "empty: give the program and its arguments")
	}
	if len(f.Command) > 0 && strings.TrimSpace(f.Command[0]) == "" {
		add(".command[0]", "empty program name")
	}
	if r := f.Runner; r.Command != nil && len(r.Command) == 0 {
		add(".runner.command", "empty: give the program and its arguments")
	} else if len(r.Command) > 0 && strings.TrimSpace(r.Command[0]) == "" {
		add(".runner.command[0]", "empty program name")
	}
	if strings.ContainsAny(f.Runner.Image, " \t\r\n") {
		add(".runner.image", "%q is not an image reference", f.Runner.Image)
	}
	if f.ResultsFile != "" {
		hostRunner := f.Runner.Set() && f.Runner.Image == ""
		if !hostRunner && !path.IsAbs(f.ResultsFile) {
			add(".resultsFile", "%q: a path inside the container is absolute", f.ResultsFile)
		}
		if strings.HasSuffix(f.ResultsFile, "/") {
			add(".resultsFile", "%q names a directory: name the report file", f.ResultsFile)
		}
	}
	if f.Format != "" && !slices.Contains(functionalFormats, f.Format) {
		add(".format", "%q: use %s, or leave it out to detect", f.Format, strings.Join(functionalFormats, ", "))
	}
	for i, e := range f.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			add(fmt.Sprintf(".env[%d]", i), "%q: want KEY=value", e)
		}
	}
	if f.Timeout < 0 {
		add(".timeout", "%s is negative", f.Timeout)
	}
	for i, q := range f.Quarantine {
		if strings.TrimSpace(q) == "" {
			add(fmt.Sprintf(".quarantine[%d]", i), "empty: name a test ID or a pattern")
		}
	}
	if f.Reruns < 0 || f.Reruns > maxFunctionalReruns {
		add(".reruns", "%d: want 0..%d", f.Reruns, maxFunctionalReruns)
	}
	t := f.Thresholds
	bad := func(v float64) bool { return v < 0 || v > 100 || math.IsNaN(v) }
	if bad(t.GO) {
		add(".thresholds.go", "%v: want a percentage in (0, 100] (0 for the default)", t.GO)
	}
	if bad(t.NoGo) {
		add(".thresholds.noGo", "%v: want a percentage in (0, 100] (0 for the default)", t.NoGo)
	}
	if w := f.WithDefaults().Thresholds; !bad(t.GO) && !bad(t.NoGo) && w.NoGo > w.GO {
		add(".thresholds.noGo", "%v%% is above go (%v%%): NO-GO must lie below GO", w.NoGo, w.GO)
	}
	return ps
}
