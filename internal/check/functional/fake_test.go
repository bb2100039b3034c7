package functional

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/runtime"
)

// fakeSuite is a runtime whose every container has exited at once, having printed the report
// of its side ("functional-old" or "functional-new") on stdout: the suite check's parsing and
// judging without an engine. The e2e tests run it on a real one.
type fakeSuite struct {
	reports map[string][]byte // by side
	exit    int
	specs   []runtime.Spec // as started
}

func (f *fakeSuite) Ensure(context.Context, v1.Image, string) (string, error) { return "fake", nil }

func (f *fakeSuite) Start(_ context.Context, spec runtime.Spec) (runtime.Instance, error) {
	f.specs = append(f.specs, spec)
	side := spec.Role[len("functional-"):]
	return &fakeInstance{out: f.reports[side], exit: f.exit}, nil
}

var errFake = errors.New("not supported by the fake runtime")

type fakeInstance struct {
	out  []byte
	exit int
}

func (i *fakeInstance) ID() string                                    { return "fake" }
func (i *fakeInstance) Endpoint(context.Context, int) (string, error) { return "", errFake }
func (i *fakeInstance) Exec(context.Context, []string) (runtime.ExecResult, error) {
	return runtime.ExecResult{}, errFake
}
func (i *fakeInstance) Logs(_ context.Context, w io.Writer) error {
	_, err := w.Write(i.out)
	return err
}
func (i *fakeInstance) State(context.Context) (runtime.State, error) {
	return runtime.State{ExitCode: i.exit}, nil
}
func (i *fakeInstance) Stats(context.Context) (runtime.Stats, error) { return runtime.Stats{}, errFake }
func (i *fakeInstance) PID(context.Context) (int, error)             { return 0, errFake }
func (i *fakeInstance) Stop(context.Context) error                   { return nil }

// runFake runs the suite check on the fake runtime, with OLD's report when old is not nil.
func runFake(ctx context.Context, f config.Functional, old, new []byte) (check.Result, error) {
	rt := &fakeSuite{reports: map[string][]byte{"old": old, "new": new}}
	if f.Command == nil {
		f.Command = []string{"/suite"}
	}
	env := &check.Env{New: &image.Image{Ref: "new"}, Log: slog.New(slog.DiscardHandler)}
	if old != nil {
		env.Old = &image.Image{Ref: "old"}
	}
	return New(rt, rt, config.App{}, f, "run")[0].Run(ctx, env)
}

// TestSuiteOnTheAppsNetwork: a suite run in the image runs on the network the app is given (the
// host's under app.hostNetwork, the only one a pod on a node without a pod network can have).
func TestSuiteOnTheAppsNetwork(t *testing.T) {
	for _, host := range []bool{false, true} {
		rt := &fakeSuite{reports: map[string][]byte{"new": []byte("1..1\nok 1 - a\n")}}
		env := &check.Env{New: &image.Image{Ref: "new"}, Log: slog.New(slog.DiscardHandler)}
		f := config.Functional{Command: []string{"/suite"}, Format: "tap"}
		if _, err := New(rt, rt, config.App{HostNetwork: host}, f, "run")[0].Run(t.Context(), env); err != nil {
			t.Fatal(err)
		}
		if len(rt.specs) != 1 || rt.specs[0].HostNetwork != host {
			t.Errorf("app.hostNetwork %v: suite started with %+v", host, rt.specs)
		}
	}
}
