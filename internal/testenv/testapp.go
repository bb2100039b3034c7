package testenv

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"
)

// TestAppPath is where TestAppImage puts the test app (test/testapp); it is the entrypoint.
const TestAppPath = "/usr/local/bin/testapp"

// TestAppStateDir is the directory the test app's writeroot mode writes to. TestAppImage
// creates it owned by the image's user, so the mode works unless the root is read-only.
const TestAppStateDir = "/var/lib/testapp"

// TestAppOptions say how TestAppImage differs from the plain test app image.
type TestAppOptions struct {
	// Env is added to the image's environment: TESTAPP_MODE, TESTAPP_VERSION and the other
	// variables test/testapp reads.
	Env []string
	// User is the image's USER; "" means "65532:65532".
	User string
	// Shell adds the host's static busybox (Debian's busybox-static) as /bin/busybox, with
	// /bin/sh linked to it.
	Shell bool
	// Healthcheck becomes the image's HEALTHCHECK when set; {"CMD", TestAppPath, "probe"}
	// needs no shell.
	Healthcheck *v1.HealthConfig
	// Files are extra entries, in a layer of their own on top.
	Files []TestAppFile
}

// TestAppFile is an extra entry of a test app image.
type TestAppFile struct {
	Path string // absolute path in the image
	// Mode is the permission bits (default 0644 for a file, 0755 for a directory).
	Mode     int64
	Dir      bool
	Link     string // the target of a symbolic link, when set
	Body     []byte
	UID, GID int
}

// testApp is the test app built once per test process.
var testApp struct {
	once sync.Once
	path string
	err  error

	layerOnce sync.Once
	layer     v1.Layer
	layerErr  error
}

// TestAppBinary returns the path of the test app (test/testapp) built as a static linux
// binary. It is built once per test process, into a folder of the system's temp dir named by
// the hash of its sources and the toolchain, so later test processes reuse it; it needs the
// go command.
func TestAppBinary(t testing.TB) string {
	t.Helper()
	testApp.once.Do(func() { testApp.path, testApp.err = buildTestApp() })
	if testApp.err != nil {
		t.Fatalf("build test/testapp: %v", testApp.err)
	}
	return testApp.path
}

func buildTestApp() (string, error) {
	_, file, _, ok := goruntime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate the testenv sources")
	}
	src := filepath.Join(filepath.Dir(file), "..", "..", "test", "testapp")
	files, err := filepath.Glob(filepath.Join(src, "*.go"))
	if err != nil || len(files) == 0 {
		return "", fmt.Errorf("no Go sources in %s (%v)", src, err)
	}
	h := sha256.New()
	fmt.Fprintln(h, goruntime.Version(), goruntime.GOARCH)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintln(h, filepath.Base(f), len(b))
		h.Write(b)
	}
	dir := filepath.Join(os.TempDir(), "plimsoll-testapp-"+strconv.Itoa(os.Getuid()), hex.EncodeToString(h.Sum(nil))[:16])
	out := filepath.Join(dir, "testapp")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the test app is built with the go command: %w", err)
	}
	// Build beside the final name and rename, so concurrent test processes never see half a file.
	tmp, err := os.CreateTemp(dir, "build-*")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", tmp.Name(), ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goruntime.GOARCH)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w\n%s", err, msg)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", err
	}
	return out, nil
}

// TestAppImage builds a FROM scratch image running the test app: the binary at TestAppPath
// (ENTRYPOINT, in a layer shared by every test app image), EXPOSE 8080/tcp, USER opts.User or
// 65532:65532, PATH=/usr/local/bin:/bin plus opts.Env, /tmp (1777) and TestAppStateDir owned by
// the user; then the busybox shell and opts.Files when asked. It is Labelled. Nothing is
// pulled.
func TestAppImage(t testing.TB, opts TestAppOptions) v1.Image {
	t.Helper()
	bin := TestAppBinary(t)
	appLayer := testAppLayer(t, bin)
	user := opts.User
	if user == "" {
		user = "65532:65532"
	}
	uid, gid := numericUser(user)
	base := []TestAppFile{
		{Path: "/tmp", Dir: true, Mode: 0o1777},
		{Path: "/var", Dir: true},
		{Path: "/var/lib", Dir: true},
		{Path: TestAppStateDir, Dir: true, UID: uid, GID: gid},
	}
	layers := []v1.Layer{appLayer, filesLayer(t, base)}
	if opts.Shell {
		bb, err := os.ReadFile("/bin/busybox")
		if err != nil {
			t.Fatalf("a test app image with a shell needs a static busybox (apt-get install busybox-static): %v", err)
		}
		layers = append(layers, filesLayer(t, []TestAppFile{
			{Path: "/bin", Dir: true},
			{Path: "/bin/busybox", Mode: 0o755, Body: bb},
			{Path: "/bin/sh", Link: "busybox"},
		}))
	}
	if len(opts.Files) > 0 {
		layers = append(layers, filesLayer(t, opts.Files))
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatalf("test app image: %v", err)
	}
	img = Labelled(t, img)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goruntime.GOARCH
	cf.Config.Entrypoint = []string{TestAppPath}
	cf.Config.User = user
	cf.Config.Env = append([]string{"PATH=/usr/local/bin:/bin"}, opts.Env...)
	cf.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	cf.Config.Healthcheck = opts.Healthcheck
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatalf("test app image config: %v", err)
	}
	return img
}

// testAppLayer is the layer holding the binary, built once.
func testAppLayer(t testing.TB, bin string) v1.Layer {
	t.Helper()
	testApp.layerOnce.Do(func() {
		body, err := os.ReadFile(bin)
		if err != nil {
			testApp.layerErr = err
			return
		}
		testApp.layer, testApp.layerErr = buildLayer([]TestAppFile{
			{Path: "/usr", Dir: true},
			{Path: "/usr/local", Dir: true},
			{Path: "/usr/local/bin", Dir: true},
			{Path: TestAppPath, Mode: 0o755, Body: body},
		})
	})
	if testApp.layerErr != nil {
		t.Fatalf("test app layer: %v", testApp.layerErr)
	}
	return testApp.layer
}

// numericUser reads "uid[:gid]"; names read as 0.
func numericUser(user string) (uid, gid int) {
	u, g, ok := strings.Cut(user, ":")
	uid, _ = strconv.Atoi(u)
	gid = uid
	if ok {
		gid, _ = strconv.Atoi(g)
	}
	return uid, gid
}

// filesLayer writes files into a reproducible layer (fixed times, PAX headers).
func filesLayer(t testing.TB, files []TestAppFile) v1.Layer {
	t.Helper()
	l, err := buildLayer(files)
	if err != nil {
		t.Fatalf("test app image layer: %v", err)
	}
	return l
}

func buildLayer(files []TestAppFile) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: strings.TrimPrefix(f.Path, "/"), Mode: f.Mode, Uid: f.UID, Gid: f.GID,
			ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		switch {
		case f.Dir:
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
			if h.Mode == 0 {
				h.Mode = 0o755
			}
		case f.Link != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, f.Link, 0o777
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Body))
			if h.Mode == 0 {
				h.Mode = 0o644
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("entry %s: %w", f.Path, err)
		}
		if _, err := tw.Write(f.Body); err != nil {
			return nil, fmt.Errorf("entry %s: %w", f.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

// ImageLabel is the image label Labelled sets to a value unique to the test process.
const ImageLabel = "org.plimsoll.testenv.process"

// process identifies this test process in image labels and run IDs.
var process = func() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

// Labelled returns img with ImageLabel set for this test process, so that its ID is the
// process's own (no other test process removes it from under this one) and Finish can remove
// it from the engine.
func Labelled(t testing.TB, img v1.Image) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	if cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	cf.Config.Labels[ImageLabel] = process
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// runs are the run IDs NewRunID gave.
var runs struct {
	sync.Mutex
	ids []string
}

// NewRunID returns a run ID for containers a test starts ("smoke-1a2b3c4d-7"), remembered so
// that Finish can tell whether any was left behind.
func NewRunID(prefix string) string {
	runs.Lock()
	defer runs.Unlock()
	id := fmt.Sprintf("%s-%s-%d", prefix, process, len(runs.ids))
	runs.ids = append(runs.ids, id)
	return id
}

// Track remembers a run ID chosen elsewhere (a runtime's caller), so that Finish checks it too.
func Track(id string) {
	runs.Lock()
	defer runs.Unlock()
	if !slices.Contains(runs.ids, id) {
		runs.ids = append(runs.ids, id)
	}
}

// Run is the body of a TestMain for tests that start containers: it runs the tests of m,
// then Finish, and returns the exit code for os.Exit: a test that left a container or image
// behind fails the run.
func Run(m *testing.M) int {
	flag.Parse()
	code := m.Run()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Finish(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		code = 1
	}
	return code
}

// Finish is for TestMain, after m.Run: it fails (returns an error naming them) when the Docker
// engine still holds a container of a run NewRunID gave, removing them, and removes the images
// Labelled built in this process. Without an engine there is nothing to check.
func Finish(ctx context.Context) error {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil
	}
	defer c.Close()
	if _, err := c.Ping(ctx, client.PingOptions{}); err != nil {
		return nil
	}
	runs.Lock()
	ids := slices.Clone(runs.ids)
	runs.Unlock()
	var left []string
	var errs []error
	for _, id := range ids {
		res, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", "plimsoll.run="+id)})
		if err != nil {
			errs = append(errs, fmt.Errorf("list containers of run %s: %w", id, err))
			continue
		}
		for _, ct := range res.Items {
			left = append(left, fmt.Sprintf("%.12s %v (%s)", ct.ID, ct.Names, ct.State))
			_, _ = c.ContainerRemove(ctx, ct.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		}
	}
	if len(left) > 0 {
		errs = append(errs, fmt.Errorf("tests left %d containers behind: %s", len(left), strings.Join(left, "; ")))
	}
	imgs, err := c.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("label", ImageLabel+"="+process)})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list test images: %w", err))...)
	}
	for _, im := range imgs.Items {
		if _, err := c.ImageRemove(ctx, im.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
			errs = append(errs, fmt.Errorf("remove test image %.19s: %w", im.ID, err))
		}
	}
	return errors.Join(errs...)
}
