package structure

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/cst"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/runtime"
	"github.com/plimsoll/plimsoll/internal/runtime/docker"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

func res(name string, kind cst.Kind, outcome string) cst.TestResult {
	r := cst.TestResult{Name: name, Kind: kind, Message: outcome + " because"}
	switch outcome {
	case "pass":
		r.Passed, r.Message = true, ""
	case "skipped":
		r.Skipped = true
	case "error":
		r.Errored = true
	}
	return r
}

func TestJudgeTest(t *testing.T) {
	tests := []struct {
		old, new string // "" old = no OLD image
		status   check.Status
		label    string
	}{
		{"", "pass", check.StatusPass, "pass"},
		{"", "fail", check.StatusFail, "fails"},
		{"", "skipped", check.StatusSkipped, "skipped"},
		{"", "error", check.StatusError, "cannot run on NEW"},
		{"pass", "pass", check.StatusPass, "pass"},
		{"fail", "pass", check.StatusPass, "pass"},
		{"pass", "fail", check.StatusFail, "regression"},
		{"fail", "fail", check.StatusWarn, "pre-existing: fails on OLD too"},
		{"error", "fail", check.StatusFail, "fails (not judged on OLD: error)"},
		{"skipped", "fail", check.StatusFail, "fails (not judged on OLD: skipped)"},
		{"pass", "error", check.StatusError, "cannot run on NEW"},
		{"error", "error", check.StatusWarn, "pre-existing: cannot run on OLD either"},
		{"skipped", "skipped", check.StatusSkipped, "skipped"},
	}
	for _, tt := range tests {
		var old *cst.TestResult
		if tt.old != "" {
			o := res("t", cst.KindCommand, tt.old)
			old = &o
		}
		got := judgeTest(old, res("t", cst.KindCommand, tt.new))
		if got.status != tt.status || got.label != tt.label {
			t.Errorf("old %q new %q: %s %q, want %s %q", tt.old, tt.new, got.status, got.label, tt.status, tt.label)
		}
	}
}

func TestJudge(t *testing.T) {
	tests := []struct {
		name             string
		old, new         []cst.TestResult // old nil = first deployment
		status           check.Status
		message          string
		measured, baseln string
	}{
		{
			name:   "all pass",
			old:    []cst.TestResult{res("a", cst.KindCommand, "pass"), res("b", cst.KindFileExistence, "pass")},
			new:    []cst.TestResult{res("a", cst.KindCommand, "pass"), res("b", cst.KindFileExistence, "pass")},
			status: check.StatusPass, message: "2 of 2 tests pass on NEW", measured: "2/2 pass on NEW", baseln: "2/2 pass on OLD",
		},
		{
			name:   "regression and pre-existing",
			old:    []cst.TestResult{res("a", cst.KindCommand, "pass"), res("b", cst.KindFileContent, "fail"), res("c", cst.KindLicense, "skipped")},
			new:    []cst.TestResult{res("a", cst.KindCommand, "fail"), res("b", cst.KindFileContent, "fail"), res("c", cst.KindLicense, "skipped")},
			status: check.StatusFail, measured: "0/2 pass on NEW", baseln: "1/2 pass on OLD",
			message: `0 of 2 tests pass on NEW, 1 skipped: 1 regression (command "a": fail because); 1 pre-existing: fails on OLD too (fileContent "b": fail because)`,
		},
		{
			name:   "pre-existing only",
			old:    []cst.TestResult{res("a", cst.KindMetadata, "fail"), res("b", cst.KindCommand, "pass")},
			new:    []cst.TestResult{res("a", cst.KindMetadata, "fail"), res("b", cst.KindCommand, "pass")},
			status: check.StatusWarn, measured: "1/2 pass on NEW", baseln: "1/2 pass on OLD",
			message: `1 of 2 tests pass on NEW: 1 pre-existing: fails on OLD too (metadata "a": fail because)`,
		},
		{
			name:   "first deployment",
			new:    []cst.TestResult{res("a", cst.KindCommand, "fail"), res("b", cst.KindCommand, "pass")},
			status: check.StatusFail, measured: "1/2 pass on NEW",
			message: `1 of 2 tests pass on NEW: 1 fails (command "a": fail because)`,
		},
		{
			name:   "first deployment passes",
			new:    []cst.TestResult{res("a", cst.KindCommand, "pass"), res("l", cst.KindLicense, "skipped")},
			status: check.StatusPass, measured: "1/1 pass on NEW", message: "1 of 1 tests pass on NEW, 1 skipped",
		},
		{
			name:   "cannot run",
			old:    []cst.TestResult{res("a", cst.KindCommand, "pass")},
			new:    []cst.TestResult{res("a", cst.KindCommand, "error")},
			status: check.StatusError, measured: "0/1 pass on NEW", baseln: "1/1 pass on OLD",
			message: `0 of 1 tests pass on NEW: 1 cannot run on NEW (command "a": error because)`,
		},
		{
			name:   "regression outranks error",
			old:    []cst.TestResult{res("a", cst.KindCommand, "pass"), res("b", cst.KindCommand, "pass")},
			new:    []cst.TestResult{res("a", cst.KindCommand, "error"), res("b", cst.KindCommand, "fail")},
			status: check.StatusFail, measured: "0/2 pass on NEW", baseln: "2/2 pass on OLD",
			message: `0 of 2 tests pass on NEW: 1 cannot run on NEW (command "a": error because); 1 regression (command "b": fail because)`,
		},
		{
			name:   "all skipped",
			new:    []cst.TestResult{res("l", cst.KindLicense, "skipped")},
			status: check.StatusSkipped, measured: "0/0 pass on NEW", message: "all 1 tests skipped: skipped because",
		},
		{
			name:   "no tests",
			status: check.StatusSkipped, measured: "0/0 pass on NEW", message: "the file holds no tests",
		},
	}
	for _, tt := range tests {
		r := judge(Data{File: "f.yaml", Old: tt.old, New: tt.new}, tt.old != nil)
		got := [4]string{r.Status.String(), r.Message, r.Measured, r.Baseline}
		want := [4]string{tt.status.String(), tt.message, tt.measured, tt.baseln}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", tt.name, diff)
		}
		if r.Layer != check.L2Smoke || r.Source != "container-structure-test f.yaml" || r.Threshold == "" {
			t.Errorf("%s: layer %v source %q threshold %q", tt.name, r.Layer, r.Source, r.Threshold)
		}
		if len(r.Tables) != 1 || len(r.Tables[0].Rows) != len(tt.new) {
			t.Errorf("%s: tables %+v", tt.name, r.Tables)
		}
	}
}

func TestJudgeTable(t *testing.T) {
	r := judge(Data{File: "f.yaml",
		Old: []cst.TestResult{res("a", cst.KindCommand, "pass")},
		New: []cst.TestResult{res("a", cst.KindCommand, "fail")}}, true)
	want := check.Table{Title: "structure tests: f.yaml", Columns: []string{"test", "kind", "old", "new", "judgement", "detail"},
		Rows: [][]string{{"a", "command", "pass", "fail", "regression", "fail because"}}}
	if diff := cmp.Diff([]check.Table{want}, r.Tables); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
	r = judge(Data{File: "f.yaml", New: []cst.TestResult{res("a", cst.KindCommand, "pass")}}, false)
	if got := r.Tables[0].Columns; !cmp.Equal(got, []string{"test", "kind", "new", "judgement", "detail"}) {
		t.Errorf("first-deployment columns %q", got)
	}
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("testdata/files-only.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"files.yaml", "a/files.yaml", "other.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, p), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	abs, _ := filepath.Abs("testdata/app.yaml")
	checks, err := New([]string{"files.yaml", "a/files.yaml", "other.yaml", abs}, dir, nil, nil, "run")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range checks {
		names = append(names, c.Name())
	}
	if diff := cmp.Diff([]string{"structure:files.yaml", "structure:a/files.yaml", "structure:other.yaml", "structure:app.yaml"}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}

	_, err = New([]string{"testdata/broken.yaml", "testdata/missing.yaml", "testdata/app.yaml"}, ".", nil, nil, "run")
	if !errors.Is(err, cst.ErrInvalid) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want both files' errors", err)
	}
	for _, want := range []string{"structure test testdata/broken.yaml", `line 5: fileExistenceTests[0]: unknown key "shouldexist" (did you mean "shouldExist"?)`, "testdata/missing.yaml"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// Images for the end-to-end tests: shell-less, a static busybox at /bin/busybox (no /bin/sh
// link), /etc/app.conf, user 65532.

func layer(t testing.TB, files map[string]string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range []string{"bin/busybox", "bin/sh", "etc/app.conf"} {
		body, ok := files[name]
		if !ok {
			continue
		}
		h := &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0)}
		if strings.HasPrefix(name, "bin/") {
			h.Mode = 0o755
		}
		if name == "bin/sh" {
			h.Typeflag, h.Linkname, h.Size, h.Mode = tar.TypeSymlink, "busybox", 0, 0o777
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func appImage(t testing.TB, ref string, files map[string]string) *image.Image {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("the test images need a static busybox (apt-get install busybox-static): %v", err)
	}
	files["bin/busybox"] = string(bb)
	img, err := mutate.AppendLayers(empty.Image, layer(t, files))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goruntime.GOARCH
	cf.Config.User = "65532"
	cf.Config.Env = []string{"PATH=/bin"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return &image.Image{Ref: ref, Img: img, Config: cf, Digest: d}
}

// runIDs are the runs the tests started containers for; TestMain checks none is left.
var runIDs struct {
	sync.Mutex
	ids []string
}

func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	id := "structure-test-" + hex.EncodeToString(b)
	runIDs.Lock()
	runIDs.ids = append(runIDs.ids, id)
	runIDs.Unlock()
	return id
}

func TestMain(m *testing.M) {
	code := m.Run()
	runIDs.Lock()
	defer runIDs.Unlock()
	if len(runIDs.ids) > 0 {
		if cli, err := client.New(client.FromEnv); err == nil {
			for _, id := range runIDs.ids {
				res, err := cli.ContainerList(context.Background(), client.ContainerListOptions{All: true,
					Filters: make(client.Filters).Add("label", runtime.LabelRun+"="+id)})
				if err != nil || len(res.Items) > 0 {
					fmt.Fprintf(os.Stderr, "FAIL: run %s left containers behind (%v): %v\n", id, err, res.Items)
					code = 1
				}
			}
			_ = cli.Close()
		}
	}
	os.Exit(code)
}

// TestEndToEnd runs testdata/app.yaml against OLD and NEW images in the Docker engine.
func TestEndToEnd(t *testing.T) {
	cli := testenv.Docker(t)
	rt, err := docker.New(context.Background(), docker.WithStopGrace(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	old := appImage(t, "app:1", map[string]string{"etc/app.conf": "tls = off\n"})
	good := appImage(t, "app:2", map[string]string{"etc/app.conf": "tls = on\n"})
	bad := appImage(t, "app:3", map[string]string{"bin/sh": ""}) // lost its config, gained a shell
	for _, im := range []*image.Image{old, good, bad} {
		id, err := rt.Ensure(context.Background(), im.Img, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = cli.ImageRemove(context.Background(), id, client.ImageRemoveOptions{Force: true}) })
	}
	runID := newRunID()
	checks, err := New([]string{"app.yaml"}, "testdata", rt, rt, runID)
	if err != nil {
		t.Fatal(err)
	}
	c := checks[0]
	log := slog.New(slog.DiscardHandler)
	tests := []struct {
		name     string
		old, new *image.Image
		status   check.Status
		message  []string
		outcomes map[string][2]string // test → old, new outcome
	}{
		{
			name: "fixed", old: old, new: good, status: check.StatusPass,
			message:  []string{"5 of 5 tests pass on NEW, 1 skipped"},
			outcomes: map[string][2]string{"runs": {"pass", "pass"}, "config": {"pass", "pass"}, "no shell": {"pass", "pass"}, "tls enabled": {"fail", "pass"}, "metadataTest": {"pass", "pass"}, "licenseTests[0]": {"skipped", "skipped"}},
		},
		{
			name: "regressed", old: old, new: bad, status: check.StatusFail,
			message: []string{
				"2 of 5 tests pass on NEW, 1 skipped",
				`2 regression (fileExistence "config": /etc/app.conf should exist but does not`,
				`fileExistence "no shell": /bin/sh should not exist but does (Lrwxrwxrwx))`,
				`1 pre-existing: fails on OLD too (fileContent "tls enabled": cannot open /etc/app.conf`,
			},
			outcomes: map[string][2]string{"runs": {"pass", "pass"}, "config": {"pass", "fail"}, "no shell": {"pass", "fail"}, "tls enabled": {"fail", "fail"}, "metadataTest": {"pass", "pass"}, "licenseTests[0]": {"skipped", "skipped"}},
		},
		{
			name: "first deployment", new: old, status: check.StatusFail,
			message:  []string{`4 of 5 tests pass on NEW, 1 skipped: 1 fails (fileContent "tls enabled": expected "(?m)^tls = on$" not found in file content "tls = off\n")`},
			outcomes: map[string][2]string{"runs": {"", "pass"}, "config": {"", "pass"}, "no shell": {"", "pass"}, "tls enabled": {"", "fail"}, "metadataTest": {"", "pass"}, "licenseTests[0]": {"", "skipped"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := c.Run(context.Background(), &check.Env{Old: tt.old, New: tt.new, Log: log})
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.status {
				t.Errorf("status %s, want %s: %s", r.Status, tt.status, r.Message)
			}
			for _, m := range tt.message {
				if !strings.Contains(r.Message, m) {
					t.Errorf("message %q lacks %q", r.Message, m)
				}
			}
			d, ok := r.Data.(Data)
			if !ok || d.File != "app.yaml" {
				t.Fatalf("data %#v", r.Data)
			}
			got := map[string][2]string{}
			for i, nr := range d.New {
				o := [2]string{"", nr.Outcome()}
				if tt.old != nil {
					o[0] = d.Old[i].Outcome()
				}
				got[nr.Name] = o
			}
			if diff := cmp.Diff(tt.outcomes, got); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
		})
	}
	// A cancelled run is an error (could not tell), never a failed test.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Run(ctx, &check.Env{Old: old, New: good, Log: log}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: %v", err)
	}
}
