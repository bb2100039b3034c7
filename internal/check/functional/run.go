package functional

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/launch"
	"github.com/plimsoll/plimsoll/internal/runtime"
	"github.com/plimsoll/plimsoll/internal/testreport"
)

// fileCopier is the optional capability of an Instance to read a file out of its container
// (runtime/docker has it): how a report file is read from an image without a shell.
type fileCopier interface {
	CopyFile(ctx context.Context, path string) ([]byte, error)
}

// streamLogger is the optional capability of an Instance to give stdout apart from stderr, so
// that a report on stdout is not mixed with the suite's diagnostics.
type streamLogger interface {
	StreamLogs(ctx context.Context, stdout, stderr io.Writer) error
}

// pollInterval is how often a running suite container is asked whether it has exited.
const pollInterval = 100 * time.Millisecond

// maxHostOutput bounds what a host runner's stdout and stderr keep.
const maxHostOutput = 256 << 20

// source says where a report came from, for Result.Source.
type source struct{ where, file string }

func (s source) String(format string) string {
	from := "stdout"
	if s.file != "" {
		from = s.file
	}
	return fmt.Sprintf("%s report from %s of %s", format, from, s.where)
}

// run is what one run of the suite left.
type run struct {
	report   []byte // the report file, or stdout
	exitCode int
	output   []byte // stdout and stderr, for quoting when the report is unusable
}

// suite runs the suite on img until its failures are explained or the reruns are spent, and
// returns the first run's report with the tests that passed on a rerun marked flaky.
func (c *suiteCheck) suite(ctx context.Context, env *check.Env, img *image.Image, side string) (*testreport.Report, source, error) {
	src := c.source()
	var first *testreport.Report
	for attempt := 0; attempt <= c.f.Reruns; attempt++ {
		r, err := c.once(ctx, img, side)
		if err != nil {
			return nil, src, err
		}
		rep, err := readReport(r.report, c.f.Format, src)
		if err != nil {
			return nil, src, fmt.Errorf("%w%s", err, r.tail())
		}
		if r.exitCode != 0 && !anyBad(rep) {
			return nil, src, fmt.Errorf("the suite exited with code %d but its report shows no failure: the report may be incomplete%s", r.exitCode, r.tail())
		}
		env.Log.Debug("functional: suite ran", "image", img.Ref, "attempt", attempt+1, "exit", r.exitCode, "tests", rep.Totals.Total)
		if first == nil {
			first = rep
		} else {
			markFlaky(first, rep)
		}
		if !unexplained(first) {
			break
		}
	}
	return first, src, nil
}

// readReport parses a report of the given format, detecting it when format is "", and names
// the format it read (or failed to read) and where the report came from in an error.
func readReport(b []byte, format string, src source) (*testreport.Report, error) {
	if format == "" {
		f, err := testreport.Detect(b)
		if err != nil {
			return nil, fmt.Errorf("read the report (%s): %w", src.String("unrecognised"), err)
		}
		format = f
	}
	rep, err := testreport.Parse(bytes.NewReader(b), format)
	if err != nil {
		return nil, fmt.Errorf("read the report (%s): %w", src.String(format), err)
	}
	return rep, nil
}

func (c *suiteCheck) source() source {
	s := source{file: c.f.ResultsFile}
	switch r := c.f.Runner; {
	case !r.Set():
		s.where = "the suite in the image (" + strings.Join(c.f.Command, " ") + ")"
	case r.Image != "":
		s.where = "runner image " + r.Image
	default:
		s.where = "host runner (" + strings.Join(r.Command, " ") + ")"
	}
	return s
}

// tail quotes the end of a run's output for an error.
func (r run) tail() string {
	if l := launch.LastLines(r.output, 3); len(l) > 0 {
		return fmt.Sprintf(" (exit code %d; last output: %q)", r.exitCode, strings.Join(l, " | "))
	}
	return fmt.Sprintf(" (exit code %d, no output)", r.exitCode)
}

func anyBad(r *testreport.Report) bool {
	for _, c := range r.Cases {
		if c.Outcome.Bad() {
			return true
		}
	}
	return false
}

// unexplained reports whether a test of r fails and has not passed on a rerun.
func unexplained(r *testreport.Report) bool {
	for _, c := range r.Cases {
		if c.Outcome.Bad() && !c.Flaky {
			return true
		}
	}
	return false
}

// markFlaky folds a rerun into the first report: a test that failed in first and passed in
// rerun is flaky; every test found in rerun counts its runs.
func markFlaky(first, rerun *testreport.Report) {
	byID := make(map[string]*testreport.Case, len(rerun.Cases))
	for i := range rerun.Cases {
		byID[rerun.Cases[i].ID] = &rerun.Cases[i]
	}
	for i := range first.Cases {
		c := &first.Cases[i]
		r, ok := byID[c.ID]
		if !ok || !c.Outcome.Bad() || c.Flaky {
			continue
		}
		c.Attempts += r.Attempts
		if r.Outcome == testreport.Passed {
			c.Flaky = true
		}
	}
}

// once runs the suite one time against img.
func (c *suiteCheck) once(ctx context.Context, img *image.Image, side string) (run, error) {
	if !c.f.Runner.Set() {
		ref, err := c.ld.Ensure(ctx, img.Img, "")
		if err != nil {
			return run{}, fmt.Errorf("load %s into the runtime: %w", img.Ref, err)
		}
		memory, err := config.ParseBytes(c.app.Memory)
		if err != nil {
			return run{}, fmt.Errorf("app.memory: %w", err)
		}
		return c.container(ctx, runtime.Spec{
			Image: ref, RunID: c.runID, Role: "functional-" + side,
			Entrypoint: c.f.Command, Env: append(append([]string(nil), c.app.Env...), c.f.Env...),
			User: c.app.User, Memory: memory, CPUs: c.app.CPUs, HostNetwork: c.app.HostNetwork,
		})
	}
	a, err := launch.Start(ctx, c.rt, c.ld, img, c.app, launch.Options{RunID: c.runID, Role: "functional-app-" + side})
	if err != nil {
		return run{}, fmt.Errorf("start the app for the runner: %w", err)
	}
	defer func() { _ = a.Instance.Stop(context.WithoutCancel(ctx)) }()
	if _, err := a.WaitHealthy(ctx, c.app.Health); err != nil {
		return run{}, fmt.Errorf("the app for the runner: %w", err)
	}
	if a.Endpoint == "" {
		return run{}, fmt.Errorf("the app for the runner has no port to reach: set app.port")
	}
	host, port, err := net.SplitHostPort(a.Endpoint)
	if err != nil {
		return run{}, fmt.Errorf("app endpoint %q: %w", a.Endpoint, err)
	}
	appEnv := []string{"APP_URL=http://" + a.Endpoint, "APP_HOST=" + host, "APP_PORT=" + port}
	env := append(append([]string(nil), c.f.Env...), appEnv...)
	if r := c.f.Runner; r.Image != "" {
		return c.container(ctx, runtime.Spec{
			Image: r.Image, RunID: c.runID, Role: "functional-runner-" + side,
			Entrypoint: r.Command, Env: env, HostNetwork: true,
		})
	}
	return c.host(ctx, env)
}

// container runs spec to its end, within the timeout, and reads the report.
func (c *suiteCheck) container(ctx context.Context, spec runtime.Spec) (run, error) {
	inst, err := c.rt.Start(ctx, spec)
	if err != nil {
		return run{}, fmt.Errorf("start the suite: %w", err)
	}
	defer func() { _ = inst.Stop(context.WithoutCancel(ctx)) }()
	st, err := waitExit(ctx, inst, c.f.Timeout)
	if err != nil {
		return run{}, err
	}
	r := run{exitCode: st.ExitCode}
	var stdout, all bytes.Buffer
	if sl, ok := inst.(streamLogger); ok {
		var stderr bytes.Buffer
		err = sl.StreamLogs(ctx, io.MultiWriter(&stdout, &all), io.MultiWriter(&stderr, &all))
	} else {
		err = inst.Logs(ctx, io.MultiWriter(&stdout, &all))
	}
	if err != nil {
		return run{}, fmt.Errorf("read the suite's output: %w", err)
	}
	r.output, r.report = all.Bytes(), stdout.Bytes()
	if c.f.ResultsFile != "" {
		cp, ok := inst.(fileCopier)
		if !ok {
			return run{}, fmt.Errorf("functional.resultsFile: this runtime cannot copy files out of a container; read the report from stdout")
		}
		if r.report, err = cp.CopyFile(ctx, c.f.ResultsFile); err != nil {
			return run{}, fmt.Errorf("copy the report out of the container: %w%s", err, r.tail())
		}
	}
	return r, nil
}

// waitExit waits for the container's process to exit, at most timeout.
func waitExit(ctx context.Context, inst runtime.Instance, timeout time.Duration) (runtime.State, error) {
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		st, err := inst.State(ctx)
		if err != nil {
			return st, fmt.Errorf("wait for the suite: %w", err)
		}
		if !st.Running {
			return st, nil
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("%w: still running after %s (functional.timeout)", ErrTimeout, timeout)
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("wait for the suite: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// host runs the host runner's command with env added to plimsoll's environment.
func (c *suiteCheck) host(ctx context.Context, env []string) (run, error) {
	file := c.f.ResultsFile
	if file != "" {
		// A report left by an earlier run must not pass for this one's.
		if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
			return run{}, fmt.Errorf("remove the previous report: %w", err)
		}
	}
	tctx, cancel := context.WithTimeout(ctx, c.f.Timeout)
	defer cancel()
	argv := c.f.Runner.Command
	cmd := exec.CommandContext(tctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, all limitedBuffer
	stdout.max, all.max = maxHostOutput, maxHostOutput
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&stdout, &all), &all
	err := cmd.Run()
	r := run{output: all.Bytes(), report: stdout.Bytes()}
	var ee *exec.ExitError
	switch {
	case tctx.Err() != nil && ctx.Err() == nil:
		return run{}, fmt.Errorf("%w: still running after %s (functional.timeout)", ErrTimeout, c.f.Timeout)
	case ctx.Err() != nil:
		return run{}, fmt.Errorf("host runner: %w", ctx.Err())
	case errors.As(err, &ee):
		r.exitCode = ee.ExitCode()
	case err != nil:
		return run{}, fmt.Errorf("host runner %s: %w", argv[0], err)
	}
	if stdout.over || all.over {
		return run{}, fmt.Errorf("host runner: more than %d bytes of output", maxHostOutput)
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return run{}, fmt.Errorf("read the report: %w%s", err, r.tail())
		}
		r.report = b
	}
	return r, nil
}

// limitedBuffer keeps the first max bytes written to it and notes what it dropped.
type limitedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.over = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
