package runtimetest

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// AppPort is the port the test image's server listens on unless PORT says otherwise.
const AppPort = 8080

// busyboxPath is where the host's static busybox is (Debian's busybox-static).
const busyboxPath = "/bin/busybox"

// applets are the busybox commands the suite runs, linked in /bin.
var applets = []string{"sh", "cat", "echo", "id", "sleep", "touch"}

// AppImage builds the suite's test image: FROM scratch with the static Go server of
// testdata/app as /app (the entrypoint; HEALTHCHECK "/app probe" every second, port 8080
// exposed), a static busybox as /bin/busybox with applet links for a shell, and /tmp. It
// needs the go command and /bin/busybox; the image is the same for the same toolchain.
func AppImage(t testing.TB) v1.Image {
	t.Helper()
	bin := buildApp(t)
	bb, err := os.ReadFile(busyboxPath)
	if err != nil {
		t.Fatalf("the test image needs a static busybox (apt-get install busybox-static): %v", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	add := func(h *tar.Header, body []byte) {
		h.ModTime, h.Size, h.Format = epoch, int64(len(body)), tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	add(&tar.Header{Name: "app", Typeflag: tar.TypeReg, Mode: 0o755}, bin)
	add(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, bb)
	for _, a := range applets {
		add(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
	}
	add(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}, nil)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layerTar := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		t.Fatalf("test image layer: %v", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatalf("test image: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goruntime.GOARCH
	cf.Config.Entrypoint = []string{"/app"}
	cf.Config.Env = []string{"PATH=/bin"}
	cf.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	cf.Config.Healthcheck = &v1.HealthConfig{
		Test:     []string{"CMD", "/app", "probe"},
		Interval: time.Second,
		Timeout:  3 * time.Second,
		Retries:  3,
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatalf("test image config: %v", err)
	}
	return img
}

// buildApp compiles testdata/app into a static linux binary and returns it.
func buildApp(t testing.TB) []byte {
	t.Helper()
	_, file, _, ok := goruntime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the runtimetest sources")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the test image is built with the go command: %v", err)
	}
	out := filepath.Join(t.TempDir(), "app")
	cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", out, ".")
	cmd.Dir = filepath.Join(filepath.Dir(file), "testdata", "app")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goruntime.GOARCH)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build testdata/app: %v\n%s", err, msg)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
