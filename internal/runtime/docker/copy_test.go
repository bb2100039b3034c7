package docker

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/runtime"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

// TestCopyFile reads a file a process wrote out of its exited container, and refuses what is
// not a regular file.
func TestCopyFile(t *testing.T) {
	rt := newTestRuntime(t)
	ref := appImage(t, rt)
	ctx := context.Background()
	inst, err := rt.Start(ctx, runtime.Spec{Image: ref, RunID: testenv.NewRunID("copy"), Role: "copy",
		Entrypoint: []string{"/bin/sh", "-c", "echo report-body > /tmp/report.txt"}})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Stop(ctx)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st, err := inst.State(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the container did not exit")
		}
	}
	cp := inst.(interface {
		CopyFile(ctx context.Context, path string) ([]byte, error)
	})
	b, err := cp.CopyFile(ctx, "/tmp/report.txt")
	if err != nil || string(b) != "report-body\n" {
		t.Errorf("CopyFile: %q, %v", b, err)
	}
	if _, err := cp.CopyFile(ctx, "/tmp/none.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := cp.CopyFile(ctx, "/tmp"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	if err := inst.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.CopyFile(ctx, "/tmp/report.txt"); !errors.Is(err, runtime.ErrRemoved) {
		t.Errorf("after Stop: %v", err)
	}
}
