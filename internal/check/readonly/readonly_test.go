package readonly_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/check/readonly"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/runtime/docker"
	"github.com/plimsoll/plimsoll/internal/testenv"
	"github.com/plimsoll/plimsoll/internal/testenv/enginetest"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

func TestReadOnlyRoot(t *testing.T) {
	testenv.Docker(t)
	rt, err := docker.New(context.Background(), docker.WithStopGrace(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	app := config.App{Health: config.Health{HTTP: "/healthz", Timeout: 10 * time.Second, Interval: 100 * time.Millisecond}}
	mode := func(m string) *image.Image {
		return enginetest.Image(t, "testapp:"+m, testenv.TestAppImage(t, testenv.TestAppOptions{Env: []string{"TESTAPP_MODE=" + m}}))
	}
	good, writes := mode("ok"), mode("writeroot")
	// An app running as a named user, resolved from the image's /etc/passwd for the tmpfs.
	named := enginetest.Image(t, "testapp:named", testenv.TestAppImage(t, testenv.TestAppOptions{
		Env: []string{"TESTAPP_MODE=writeroot"}, User: "app",
		Files: []testenv.TestAppFile{
			{Path: "/etc", Dir: true},
			{Path: "/etc/passwd", Body: []byte("root:x:0:0:root:/root:/sbin/nologin\napp:x:4242:4242::/nonexistent:/sbin/nologin\n")},
			{Path: "/etc/group", Body: []byte("root:x:0:\napp:x:4242:\n")},
		}}))
	tmpfs := []string{testenv.TestAppStateDir}
	on := func(tmpfs ...string) config.Harden { return config.Harden{ReadOnlyRoot: true, Tmpfs: tmpfs} }
	for _, tc := range []struct {
		name     string
		old, new *image.Image
		h        config.Harden
		status   check.Status
		says     []string
	}{
		{"good", good, good, on(), check.StatusPass, []string{"healthy in", "with a read-only root"}},
		{"needs a writable root", good, writes, on(), check.StatusFail, []string{
			"regression: with a read-only root: the container exited with code 1 before it was healthy",
			`(output: "testapp: TESTAPP_MODE=writeroot needs a writable /var/lib/testapp/state: open /var/lib/testapp/state: read-only file system")`,
			"(OLD: healthy in"}},
		{"first deployment", nil, writes, on(), check.StatusFail, []string{"with a read-only root: the container exited with code 1"}},
		{"on both", writes, writes, on(), check.StatusWarn, []string{"pre-existing: fails on OLD too: with a read-only root: the container exited with code 1"}},
		{"tmpfs where it writes", good, writes, on(tmpfs...), check.StatusPass, []string{"healthy in"}},
		{"tmpfs for a named user", good, named, on(tmpfs...), check.StatusPass, []string{"healthy in"}},
		{"fixed", writes, good, on(), check.StatusPass, []string{"OLD did not: the container exited with code 1"}},
		{"not asked", good, writes, config.Harden{}, check.StatusSkipped, []string{"harden.readOnlyRoot is false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := readonly.New(rt, rt, app, tc.h, testenv.NewRunID("readonly"))
			r, err := c.Run(context.Background(), &check.Env{Old: tc.old, New: tc.new, Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tc.status {
				t.Errorf("status %v, want %v: %s", r.Status, tc.status, r.Message)
			}
			for _, s := range tc.says {
				if !strings.Contains(r.Message, s) {
					t.Errorf("message %q\n does not say %q", r.Message, s)
				}
			}
			if r.Status != check.StatusSkipped && (r.Threshold == "" || r.Measured == "" || r.Source == "" || (tc.old != nil) != (r.Baseline != "")) {
				t.Errorf("evidence missing: measured %q baseline %q threshold %q source %q", r.Measured, r.Baseline, r.Threshold, r.Source)
			}
		})
	}
}
