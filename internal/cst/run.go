package cst

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/runtime"
)

// Kind is the kind of one CST test.
type Kind string

// The kinds, in the order Run reports them (CST's order).
const (
	KindCommand       Kind = "command"
	KindFileExistence Kind = "fileExistence"
	KindFileContent   Kind = "fileContent"
	KindMetadata      Kind = "metadata"
	KindLicense       Kind = "license"
)

// TestResult is the outcome of one test. Exactly one of Passed, Skipped and Errored is true,
// or none: the test ran and failed.
type TestResult struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Passed: the test ran and held.
	Passed bool `json:"passed"`
	// Skipped: the test was not run (license tests, unsupported containerRunOptions).
	Skipped bool `json:"skipped,omitempty"`
	// Errored: the test could not be run on this image (setup needs a shell the image lacks,
	// no container runtime).
	Errored bool `json:"errored,omitempty"`
	// Message says why a test failed, was skipped or errored; notes about a passed one.
	Message  string        `json:"message,omitempty"`
	Duration time.Duration `json:"duration"`
}

// Outcome is "pass", "fail", "skipped" or "error".
func (r TestResult) Outcome() string {
	switch {
	case r.Skipped:
		return "skipped"
	case r.Errored:
		return "error"
	case r.Passed:
		return "pass"
	}
	return "fail"
}

// Run runs every test of cfg against img and returns one result per test: command tests,
// then file existence, file content, the metadata test (when it checks anything) and license
// tests, each kind in file order.
//
// File existence, file content and metadata tests read the image (its flattened layers and
// config), never a container. Paths are resolved as CST's docker driver sees them: a file
// existence test looks at a final symbolic link itself (so "Lrwxrwxrwx" permissions match it),
// a content test reads through links. Permissions compare Go's os.FileMode string of the
// layer's tar header, uid and gid its owner, exactly as CST compares them.
//
// Each command test runs in a new container of img (loaded through ld once) whose entrypoint
// is the command and its arguments, $VARS expanded with the image's environment as CST does,
// with globalEnvVars and the test's envVars added and no shell in between, so commands work on
// shell-less images. The container is waited for (Config.CommandTimeout), its output read and
// the container removed on every path. Where CST runs setup commands in containers of their
// own and commits them, Run runs them through /bin/sh in the test's container before the
// command, their output discarded; a test with setup on an image without /bin/sh is
// reported as errored. Teardown commands are not run, as CST's docker driver does not run
// them either. Without a StreamLogger runtime, stdout and stderr expectations are both matched
// against the interleaved output.
//
// rt and ld may be nil: command tests then report an error result and the others run. An
// error means Run could not tell (the image or the engine could not be read, ctx ended), never
// that a test failed.
func Run(ctx context.Context, cfg *Config, img *image.Image, rt runtime.Runtime, ld Loader, runID string) ([]TestResult, error) {
	if cfg == nil || img == nil {
		return nil, errors.New("container-structure-test: no config or no image")
	}
	cf := img.Config
	if cf == nil {
		if img.Img == nil {
			return nil, fmt.Errorf("image %s: no config", img.Ref)
		}
		var err error
		if cf, err = img.Img.ConfigFile(); err != nil {
			return nil, fmt.Errorf("image %s: reading its config: %w", img.Ref, err)
		}
	}
	imageEnv := envMap(cf.Config.Env)
	var fsTree tree
	files := func(ctx context.Context) (tree, error) {
		if fsTree != nil {
			return fsTree, nil
		}
		t, err := readTree(ctx, img)
		if err != nil {
			return nil, fmt.Errorf("reading the filesystem of %s: %w", img.Ref, err)
		}
		fsTree = t
		return t, nil
	}

	var existence, content []TestResult
	if len(cfg.FileExistenceTests)+len(cfg.FileContentTests) > 0 {
		t, err := files(ctx)
		if err != nil {
			return nil, err
		}
		existence = existenceTests(t, cfg.FileExistenceTests, imageEnv)
		if content, err = contentTests(ctx, img, t, cfg.FileContentTests); err != nil {
			return nil, err
		}
	}
	var meta []TestResult
	if !cfg.MetadataTest.empty() {
		start := time.Now()
		problems := checkMetadata(cfg.MetadataTest, cf.Config)
		meta = append(meta, TestResult{Name: "metadataTest", Kind: KindMetadata, Passed: len(problems) == 0,
			Message: strings.Join(problems, "; "), Duration: time.Since(start)})
	}
	var license []TestResult
	for i := range cfg.LicenseTests {
		license = append(license, TestResult{Name: fmt.Sprintf("licenseTests[%d]", i), Kind: KindLicense, Skipped: true,
			Message: "license tests are not supported (CST checks Debian copyright files against Google's list of allowed licenses)"})
	}

	timeout := cfg.CommandTimeout
	if timeout <= 0 {
		timeout = DefaultCommandTimeout
	}
	c := &commander{cfg: cfg, img: img, rt: rt, ld: ld, runID: runID, imageEnv: imageEnv, timeout: timeout, marker: newMarker(),
		shell: func(ctx context.Context) (bool, error) {
			t, err := files(ctx)
			if err != nil {
				return false, err
			}
			return t.hasShell(), nil
		}}
	var results []TestResult
	for _, ct := range cfg.CommandTests {
		start := time.Now()
		r, err := c.run(ctx, ct)
		if err != nil {
			return nil, fmt.Errorf("command test %q on %s: %w", ct.Name, img.Ref, err)
		}
		r.Duration = time.Since(start)
		results = append(results, r)
	}
	results = append(results, existence...)
	results = append(results, content...)
	results = append(results, meta...)
	return append(results, license...), nil
}

func existenceTests(t tree, tests []FileExistenceTest, imageEnv map[string]string) []TestResult {
	var out []TestResult
	for _, ft := range tests {
		start := time.Now()
		passed, msg := existence(t, ft, imageEnv)
		out = append(out, TestResult{Name: ft.Name, Kind: KindFileExistence, Passed: passed, Message: msg, Duration: time.Since(start)})
	}
	return out
}

func contentTests(ctx context.Context, img *image.Image, t tree, tests []FileContentTest) ([]TestResult, error) {
	targets := make([]string, len(tests))
	problems := make([]error, len(tests))
	want := map[string]bool{}
	for i, ft := range tests {
		targets[i], problems[i] = contentTarget(t, ft)
		if problems[i] == nil {
			want[targets[i]] = true
		}
	}
	start := time.Now()
	got, tooBig, err := readContents(ctx, img, want)
	if err != nil {
		return nil, fmt.Errorf("reading files of %s: %w", img.Ref, err)
	}
	read := time.Since(start) / time.Duration(max(1, len(want)))
	var out []TestResult
	for i, ft := range tests {
		start := time.Now()
		r := TestResult{Name: ft.Name, Kind: KindFileContent}
		switch b, ok := got[targets[i]]; {
		case problems[i] != nil:
			r.Message = problems[i].Error()
		case tooBig[targets[i]] > 0:
			r.Message = fmt.Sprintf("cannot read %s: %d bytes, more than the %d a content test reads", ft.Path, tooBig[targets[i]], maxContent)
		case !ok:
			r.Message = fmt.Sprintf("cannot read %s: its content was not found in the layers", ft.Path)
		default:
			r.Passed, r.Message = contents(ft, string(b))
		}
		r.Duration = time.Since(start) + read
		out = append(out, r)
	}
	return out, nil
}
