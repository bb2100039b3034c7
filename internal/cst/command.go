package cst

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/runtime"
)

// Loader makes an image available to the runtime and returns the reference to start it by
// (docker.Runtime.Ensure).
type Loader interface {
	Ensure(ctx context.Context, img v1.Image, ref string) (string, error)
}

// StreamLogger is an optional capability of a runtime.Instance: its stdout and stderr written
// apart. An Instance without it gives both streams interleaved through Logs; command tests
// then match expectedOutput/excludedOutput and expectedError/excludedError alike against that
// one text, and say so in their message when they fail.
type StreamLogger interface {
	StreamLogs(ctx context.Context, stdout, stderr io.Writer) error
}

// Role is the runtime.Spec role of command-test containers.
const Role = "structure"

// commandOutput is what a command test's container did.
type commandOutput struct {
	stdout, stderr string
	// merged: stdout and stderr both hold the two streams interleaved (no StreamLogger).
	merged   bool
	exitCode int
}

// checkCommand compares a command's output and exit code with the test, as CST's
// CheckOutput does: every expected regular expression must match somewhere in its stream,
// no excluded one may, and the exit code must equal ExitCode (0 unless given).
func checkCommand(ct CommandTest, out commandOutput) []string {
	outName, errName := "stdout", "stderr"
	if out.merged {
		outName = "output (stdout and stderr together)"
		errName = outName
	}
	var problems []string
	problems = append(problems, matchAll(outName, out.stdout, ct.ExpectedOutput, ct.ExcludedOutput)...)
	problems = append(problems, matchAll(errName, out.stderr, ct.ExpectedError, ct.ExcludedError)...)
	if out.exitCode != ct.ExitCode {
		problems = append(problems, fmt.Sprintf("exit code %d, want %d", out.exitCode, ct.ExitCode))
	}
	return problems
}

// matchAll checks text against expected and excluded regular expressions (Go syntax,
// unanchored, as CST's CompileAndRunRegex). One that does not compile fails, as in CST.
func matchAll(what, text string, expected, excluded []string) []string {
	var problems []string
	for _, s := range expected {
		re, err := regexp.Compile(s)
		if err != nil {
			problems = append(problems, fmt.Sprintf("invalid regular expression %q: %v", s, err))
			continue
		}
		if !re.MatchString(text) {
			problems = append(problems, fmt.Sprintf("expected %q not found in %s %s", s, what, snippet(text)))
		}
	}
	for _, s := range excluded {
		re, err := regexp.Compile(s)
		if err != nil {
			problems = append(problems, fmt.Sprintf("invalid regular expression %q: %v", s, err))
			continue
		}
		if m := re.FindString(text); re.MatchString(text) {
			problems = append(problems, fmt.Sprintf("excluded %q found in %s: %s", s, what, snippet(m)))
		}
	}
	return problems
}

// snippet quotes text for a message, shortened to its first 300 bytes.
func snippet(text string) string {
	const max = 300
	if len(text) > max {
		return fmt.Sprintf("%q… (%d bytes)", text[:max], len(text))
	}
	return fmt.Sprintf("%q", text)
}

// commander runs the command tests of one config against one image.
type commander struct {
	cfg      *Config
	img      *image.Image
	rt       runtime.Runtime
	ld       Loader
	runID    string
	imageEnv map[string]string
	shell    func(ctx context.Context) (bool, error)
	timeout  time.Duration
	ref      string // the image as loaded into the runtime; "" until the first test needs it
	marker   string // printed by the setup wrapper when a setup command fails
}

// skipReason says why the file's command tests cannot run here, "" when they can.
func (c *commander) skipReason() string {
	if u := c.cfg.ContainerRunOptions.unsupported(); u != "" {
		return fmt.Sprintf("containerRunOptions %s not supported: running the command without them would not be the test that was written", u)
	}
	return ""
}

// run runs one command test in a new container. Problems of the image (a command that does not
// start, fails, times out) are a failed result; an error means the runtime could not tell.
func (c *commander) run(ctx context.Context, ct CommandTest) (TestResult, error) {
	res := TestResult{Name: ct.Name, Kind: KindCommand}
	if why := c.skipReason(); why != "" {
		res.Skipped, res.Message = true, why
		return res, nil
	}
	if c.rt == nil || c.ld == nil {
		res.Errored, res.Message = true, "no container runtime: command tests need one"
		return res, nil
	}
	if len(ct.Setup) > 0 {
		ok, err := c.shell(ctx)
		if err != nil {
			return res, err
		}
		if !ok {
			res.Errored, res.Message = true, "setup needs a shell: plimsoll runs setup commands through /bin/sh in the test's container, and this image has none"
			return res, nil
		}
	}
	if c.ref == "" {
		ref, err := c.ld.Ensure(ctx, c.img.Img, "")
		if err != nil {
			return res, fmt.Errorf("loading the image for command tests: %w", err)
		}
		c.ref = ref
	}
	argv := expand(append(append([]string{}, ct.Command...), ct.Args...), c.imageEnv)
	entry := argv
	if len(ct.Setup) > 0 {
		entry = append([]string{"/bin/sh", "-c", c.setupScript(ct.Setup), "sh"}, argv...)
	}
	var env []string
	for _, e := range append(append([]KeyValue{}, c.cfg.GlobalEnvVars...), ct.EnvVars...) {
		env = append(env, e.Key+"="+os.Expand(e.Value, func(k string) string { return c.imageEnv[k] }))
	}
	spec := runtime.Spec{Image: c.ref, RunID: c.runID, Role: Role, Entrypoint: entry, Env: env}
	if o := c.cfg.ContainerRunOptions; o != nil {
		spec.User = o.User
	}
	out, problem, err := c.execute(ctx, spec)
	if err != nil {
		return res, err
	}
	var problems []string
	switch {
	case problem != "":
		problems = []string{problem}
	case len(ct.Setup) > 0 && strings.Contains(out.stderr, c.marker):
		problems = []string{setupFailure(out.stderr, c.marker, ct.Setup)}
	default:
		problems = checkCommand(ct, out)
	}
	res.Passed = len(problems) == 0
	if len(ct.Teardown) > 0 {
		problems = append(problems, "teardown not run: CST's docker driver skips it too, since every test has its own container")
	}
	res.Message = strings.Join(problems, "; ")
	return res, nil
}

// execute starts spec, waits for its process to exit and collects its output. problem is set
// when the command did not start or did not exit in time (a failure of the test).
func (c *commander) execute(ctx context.Context, spec runtime.Spec) (out commandOutput, problem string, err error) {
	inst, err := c.rt.Start(ctx, spec)
	if errors.Is(err, runtime.ErrStartFailed) {
		return out, fmt.Sprintf("command %q did not start: %v", spec.Entrypoint, err), nil
	}
	if err != nil {
		return out, "", fmt.Errorf("command test container: %w", err)
	}
	defer func() {
		if serr := inst.Stop(context.WithoutCancel(ctx)); serr != nil && err == nil {
			err = fmt.Errorf("removing the command test container: %w", serr)
		}
	}()
	st, timedOut, err := waitExit(ctx, inst, c.timeout)
	if err != nil {
		return out, "", fmt.Errorf("command test container: %w", err)
	}
	if timedOut {
		return out, fmt.Sprintf("command %q did not exit within %s", spec.Entrypoint, c.timeout), nil
	}
	out.exitCode = st.ExitCode
	if sl, ok := inst.(StreamLogger); ok {
		var stdout, stderr bytes.Buffer
		if err := sl.StreamLogs(ctx, &stdout, &stderr); err != nil {
			return out, "", fmt.Errorf("command test output: %w", err)
		}
		out.stdout, out.stderr = stdout.String(), stderr.String()
		return out, "", nil
	}
	var all bytes.Buffer
	if err := inst.Logs(ctx, &all); err != nil {
		return out, "", fmt.Errorf("command test output: %w", err)
	}
	out.stdout, out.stderr, out.merged = all.String(), all.String(), true
	return out, "", nil
}

// waitExit polls the container until its process exits, timeout passes or ctx ends.
func waitExit(ctx context.Context, inst runtime.Instance, timeout time.Duration) (runtime.State, bool, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	delay := 10 * time.Millisecond
	for {
		st, err := inst.State(ctx)
		if err != nil {
			return st, false, err
		}
		if !st.Running {
			return st, false, nil
		}
		select {
		case <-ctx.Done():
			return st, false, ctx.Err()
		case <-deadline.C:
			return st, true, nil
		case <-time.After(delay):
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// setupScript is the /bin/sh program that runs the setup commands, their output discarded
// as CST discards that of its setup containers, and then execs the command ("$@"). A setup
// command that fails prints the marker, its index and exit code to stderr and ends the
// container with 125.
func (c *commander) setupScript(setup [][]string) string {
	var b strings.Builder
	for i, argv := range setup {
		quoted := make([]string, len(argv))
		for j, a := range argv {
			quoted[j] = shellQuote(a)
		}
		fmt.Fprintf(&b, "%s >/dev/null 2>&1 || { echo \"%s %d $?\" >&2; exit 125; }\n", strings.Join(quoted, " "), c.marker, i)
	}
	b.WriteString(`exec "$@"`)
	return b.String()
}

// setupFailure describes the failed setup command the marker line in stderr names.
func setupFailure(stderr, marker string, setup [][]string) string {
	var i, code int
	for _, line := range strings.Split(stderr, "\n") {
		if rest, ok := strings.CutPrefix(line, marker+" "); ok {
			if _, err := fmt.Sscanf(rest, "%d %d", &i, &code); err == nil && i >= 0 && i < len(setup) {
				return fmt.Sprintf("setup command %d %q failed with exit code %d", i+1, setup[i], code)
			}
		}
	}
	return "a setup command failed"
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// expand substitutes $VAR and ${VAR} in every argument with the image's environment, as CST
// does before it runs a command (unknown variables become empty).
func expand(args []string, env map[string]string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = os.Expand(a, func(k string) string { return env[k] })
	}
	return out
}

// newMarker returns a setup-failure marker no command prints by chance.
func newMarker() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return "plimsoll-cst-setup-failed-" + hex.EncodeToString(b)
}
