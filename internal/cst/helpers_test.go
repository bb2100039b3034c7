package cst

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"

	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/runtime"
	"github.com/plimsoll/plimsoll/internal/runtime/docker"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

// file is one entry of a test layer.
type file struct {
	name     string
	typ      byte // tar.TypeReg when 0
	mode     int64
	uid, gid int
	link     string
	body     string
	bytes    []byte // instead of body
}

func dir(name string, mode int64) file { return file{name: name, typ: tar.TypeDir, mode: mode} }
func reg(name, body string) file       { return file{name: name, mode: 0o644, body: body} }
func exe(name string, b []byte) file   { return file{name: name, mode: 0o755, bytes: b} }
func symlink(name, target string) file {
	return file{name: name, typ: tar.TypeSymlink, mode: 0o777, link: target}
}
func hardlink(name, target string) file {
	return file{name: name, typ: tar.TypeLink, mode: 0o644, link: target}
}
func whiteout(dirName, name string) file { return reg(dirName+"/.wh."+name, "") }

// layer builds an uncompressed layer of files.
func layer(t testing.TB, files ...file) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		body := f.bytes
		if body == nil {
			body = []byte(f.body)
		}
		typ := f.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: f.name, Typeflag: typ, Mode: f.mode, Uid: f.uid, Gid: f.gid, Linkname: f.link,
			ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write(body); err != nil {
				t.Fatal(err)
			}
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

// build makes an image of base (nil = empty) plus layers, with its config edited by edit.
func build(t testing.TB, base v1.Image, edit func(*v1.Config), layers ...v1.Layer) v1.Image {
	t.Helper()
	if base == nil {
		base = empty.Image
	}
	img, err := mutate.AppendLayers(base, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goruntime.GOARCH
	if edit != nil {
		edit(&cf.Config)
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// wrap gives img the shape Resolve returns.
func wrap(t testing.TB, img v1.Image, ref string) *image.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return &image.Image{Ref: ref, Img: img, Config: cf, Digest: d}
}

var probeBinary = sync.OnceValues(func() ([]byte, error) {
	_, src, _, _ := goruntime.Caller(0)
	out, err := os.MkdirTemp("", "cst-probe")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	bin := filepath.Join(out, "probe")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", bin, ".")
	cmd.Dir = filepath.Join(filepath.Dir(src), "testdata", "probe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goruntime.GOARCH)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build testdata/probe: %v\n%s", err, msg)
	}
	return os.ReadFile(bin)
})

// probe returns the static probe program (testdata/probe), built once per test binary.
func probe(t testing.TB) []byte {
	t.Helper()
	b, err := probeBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// busybox returns Debian's static busybox (busybox-static).
func busybox(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("the test images need a static busybox (apt-get install busybox-static): %v", err)
	}
	return b
}

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// engine is the Docker engine of the tests: the runtime (also the Loader) and a client.
type engine struct {
	rt  *docker.Runtime
	cli *client.Client
}

func newEngine(t testing.TB) engine {
	t.Helper()
	cli := testenv.Docker(t)
	rt, err := docker.New(context.Background(), docker.WithStopGrace(time.Second))
	if err != nil {
		t.Fatalf("docker.New: %v", err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	return engine{rt: rt, cli: cli}
}

// load puts img into the engine for the test (Run's Ensure then finds it) and removes it after.
func (e engine) load(t testing.TB, img v1.Image) {
	t.Helper()
	id, err := e.rt.Ensure(context.Background(), img, "")
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	t.Cleanup(func() {
		_, _ = e.cli.ImageRemove(context.Background(), id, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
}

// startedInstance starts a throwaway container of the probe image and returns its instance.
func startedInstance(t *testing.T, e engine) runtime.Instance {
	t.Helper()
	img := probeImage(t, nil)
	e.load(t, img) // removed again when the test ends
	ref, err := e.rt.Ensure(context.Background(), img, "")
	if err != nil {
		t.Fatal(err)
	}
	in, err := e.rt.Start(context.Background(), runtime.Spec{Image: ref, RunID: testenv.NewRunID("cst"), Role: "probe", Cmd: []string{"out", "x"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Stop(context.Background()) })
	return in
}

// outcomes maps each result's name to its outcome, for compact assertions; duplicate names
// get "#2", "#3"….
func outcomes(results []TestResult) map[string]string {
	m := map[string]string{}
	for _, r := range results {
		name := string(r.Kind) + ":" + r.Name
		for n := 2; ; n++ {
			if _, dup := m[name]; !dup {
				break
			}
			name = fmt.Sprintf("%s:%s#%d", r.Kind, r.Name, n)
		}
		m[name] = r.Outcome()
	}
	return m
}

// result finds the result of kind and name.
func result(t testing.TB, results []TestResult, kind Kind, name string) TestResult {
	t.Helper()
	i := slices.IndexFunc(results, func(r TestResult) bool { return r.Kind == kind && r.Name == name })
	if i < 0 {
		t.Fatalf("no %s test %q in %+v", kind, name, results)
	}
	return results[i]
}
