package cst

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/runtime"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

func parse(t testing.TB, yaml string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(yaml), "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func corpus(t testing.TB, name string) *Config {
	t.Helper()
	cfg, err := Load(filepath.Join(testenv.SharedDir(t, "cst"), name))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// probeImage is shell-less: the static probe as /probe and /user, a passwd file, nothing else.
func probeImage(t testing.TB, edit func(*v1.Config)) v1.Image {
	p := probe(t)
	return build(t, nil, func(c *v1.Config) {
		c.Env = []string{"PATH=/usr/bin:/bin", "IMAGE_VAR=from-image"}
		c.Entrypoint = []string{"/probe", "exit", "9"} // overridden by every command test
		if edit != nil {
			edit(c)
		}
	}, layer(t,
		exe("probe", p),
		exe("user", p),
		reg("etc/passwd", "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:1002:1002:nonroot:/home/nonroot:/sbin/nologin\n"),
		reg("etc/group", "root:x:0:\nnonroot:x:1002:\n"),
	))
}

// busyboxImage has a shell: Debian's static busybox with applet links in /bin.
func busyboxImage(t testing.TB) v1.Image {
	files := []file{exe("bin/busybox", busybox(t)), dir("tmp/", 0o1777)}
	for _, a := range []string{"sh", "ls", "touch", "echo", "false", "cat"} {
		files = append(files, symlink("bin/"+a, "busybox"))
	}
	return build(t, nil, func(c *v1.Config) { c.Env = []string{"PATH=/bin"} }, layer(t, files...))
}

const commandsYAML = `
schemaVersion: 2.0.0
globalEnvVars:
- key: GREETING
  value: hello
- key: PATH
  value: /opt/bin:$PATH
commandTests:
- name: stdout and stderr
  command: /probe
  args: [out, to stdout, err, to stderr]
  expectedOutput: ['^to stdout\n$']
  excludedOutput: [stderr]
  expectedError: ['^to stderr\n$']
  excludedError: [stdout]
- name: exit code
  command: [/probe, exit, "3"]
  exitCode: 3
- name: wrong exit code
  command: /probe
  args: [err, oops, exit, "4"]
- name: environment
  command: /probe
  args: [env, GREETING, env, PATH, env, LOCAL, env, IMAGE_VAR]
  envVars:
  - key: LOCAL
    value: ${IMAGE_VAR}-local
  expectedOutput: ['GREETING=hello\n', 'PATH=/opt/bin:/usr/bin:/bin\n', 'LOCAL=from-image-local\n', 'IMAGE_VAR=from-image\n']
- name: arguments expanded with the image environment only
  command: /probe
  args: [out, $IMAGE_VAR, out, $GREETING, out, '$$']
  expectedOutput: ['^from-image\n\n\n$']
- name: missing command
  command: /no/such/binary
- name: never exits
  command: /probe
  args: [sleep, 1m]
- name: setup without a shell
  setup: [[/probe, out, x]]
  command: /probe
- name: teardown is not run
  teardown: [[/probe, out, bye]]
  command: /probe
  args: [out, ok]
  expectedOutput: [ok]
`

// TestRunCommands runs command tests on a shell-less image, with a runtime that tells stdout
// from stderr.
func TestRunCommands(t *testing.T) {
	e := newEngine(t)
	img := probeImage(t, nil)
	e.load(t, img)
	cfg := parse(t, commandsYAML)
	cfg.CommandTimeout = 3 * time.Second
	start := time.Now()
	results, err := Run(context.Background(), cfg, wrap(t, img, "probe"), e.rt, e.rt, testenv.NewRunID("cst"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d command tests in %s", len(results), time.Since(start).Round(time.Millisecond))
	want := map[string]string{
		"command:stdout and stderr": "pass",
		"command:exit code":         "pass",
		"command:wrong exit code":   "fail",
		"command:environment":       "pass",
		"command:arguments expanded with the image environment only": "pass",
		"command:missing command":                                    "fail",
		"command:never exits":                                        "fail",
		"command:setup without a shell":                              "error",
		"command:teardown is not run":                                "pass",
	}
	if diff := cmp.Diff(want, outcomes(results)); diff != "" {
		for _, r := range results {
			t.Logf("%s: %s %s", r.Name, r.Outcome(), r.Message)
		}
		t.Fatalf("outcomes (-want +got):\n%s", diff)
	}
	messages := map[string]string{
		"wrong exit code":       "exit code 4, want 0",
		"missing command":       `command ["/no/such/binary"] did not start`,
		"never exits":           `command ["/probe" "sleep" "1m"] did not exit within 3s`,
		"setup without a shell": "setup needs a shell",
		"teardown is not run":   "teardown not run",
		"stdout and stderr":     "",
		"arguments expanded with the image environment only": "",
	}
	for name, want := range messages {
		r := result(t, results, KindCommand, name)
		if want == "" && r.Message != "" || !strings.Contains(r.Message, want) {
			t.Errorf("%s: message %q, want %q", name, r.Message, want)
		}
		if r.Duration <= 0 {
			t.Errorf("%s: duration %s", name, r.Duration)
		}
	}
	if d := result(t, results, KindCommand, "never exits").Duration; d < 3*time.Second || d > 20*time.Second {
		t.Errorf("the timed-out test took %s, want about 3s", d)
	}
}

// TestRunCommandsSeparateStreams runs with the Docker runtime, which tells stdout from stderr
// (its StreamLogs capability): each expectation sees only its own stream, as in CST.
func TestRunCommandsSeparateStreams(t *testing.T) {
	e := newEngine(t)
	img := probeImage(t, nil)
	e.load(t, img)
	cfg := parse(t, `
schemaVersion: 2.0.0
commandTests:
- name: stdout and stderr
  command: /probe
  args: [out, to stdout, err, to stderr]
  expectedOutput: ['to stdout']
  excludedOutput: ['to stderr']
- name: java-style version on stderr
  command: /probe
  args: [err, 'openjdk version "21.0.12.1"']
  expectedError: ['openjdk version "21\.0\.12\.1"']
`)
	if _, ok := any(startedInstance(t, e)).(StreamLogger); !ok {
		t.Fatal("the Docker runtime's instances do not tell stdout from stderr")
	}
	results, err := Run(context.Background(), cfg, wrap(t, img, "probe"), e.rt, e.rt, testenv.NewRunID("cst"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"command:stdout and stderr": "pass", "command:java-style version on stderr": "pass"}, outcomes(results)); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s\n%+v", diff, results)
	}
}

// TestRunSetup runs setup commands through the image's shell.
func TestRunSetup(t *testing.T) {
	e := newEngine(t)
	img := busyboxImage(t)
	e.load(t, img)
	cfg := parse(t, `
schemaVersion: 2.0.0
commandTests:
- name: setup runs first, quietly
  setup: [[touch, /tmp/ready], [sh, -c, echo setup-noise; echo more >&2]]
  command: ls
  args: [/tmp]
  expectedOutput: ['^ready\n$']
  excludedError: [noise, more]
- name: setup fails
  setup: [[echo, fine], ["false"]]
  command: echo
  args: [never]
- name: each test has its own container
  command: ls
  args: [/tmp]
  expectedOutput: ['^$']
`)
	results, err := Run(context.Background(), cfg, wrap(t, img, "busybox"), e.rt, e.rt, testenv.NewRunID("cst"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"command:setup runs first, quietly":       "pass",
		"command:setup fails":                     "fail",
		"command:each test has its own container": "pass",
	}
	if diff := cmp.Diff(want, outcomes(results)); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s\n%+v", diff, results)
	}
	if got, want := results[1].Message, `setup command 2 ["false"] failed with exit code 1`; got != want {
		t.Errorf("setup failure message %q, want %q", got, want)
	}
}

// TestRunFileTestsWithoutRuntime runs file and metadata tests on an image no engine could run
// (another architecture, no entrypoint, no shell) without any runtime.
func TestRunFileTestsWithoutRuntime(t *testing.T) {
	img := build(t, nil, func(c *v1.Config) { c.User = "65532" }, layer(t,
		file{name: "app", mode: 0o755, uid: 65532, gid: 65532, body: "\x7fELF"},
		reg("etc/app.conf", "listen = 8080\ndebug = false\n"),
	))
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Architecture = "s390x"
	cfg := parse(t, `
schemaVersion: 2.0.0
commandTests:
- name: needs a container
  command: /app
fileExistenceTests:
- name: app
  path: /app
  permissions: -rwxr-xr-x
  uid: 65532
  gid: 65532
  isExecutableBy: any
- name: no shell
  path: /bin/sh
  shouldExist: false
fileContentTests:
- name: config
  path: /etc/app.conf
  expectedContents: ['listen = 8080']
  excludedContents: ['debug = true']
metadataTest:
  user: "65532"
  entrypoint: []
licenseTests:
- debian: true
`)
	im := wrap(t, img, "s390x-app")
	im.Config = cf
	results, err := Run(context.Background(), cfg, im, nil, nil, "unused")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"command:needs a container": "error",
		"fileExistence:app":         "pass",
		"fileExistence:no shell":    "pass",
		"fileContent:config":        "pass",
		"metadata:metadataTest":     "pass",
		"license:licenseTests[0]":   "skipped",
	}
	if diff := cmp.Diff(want, outcomes(results)); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s\n%+v", diff, results)
	}
	kinds := make([]Kind, len(results))
	for i, r := range results {
		kinds[i] = r.Kind
	}
	if diff := cmp.Diff([]Kind{KindCommand, KindFileExistence, KindFileExistence, KindFileContent, KindMetadata, KindLicense}, kinds); diff != "" {
		t.Errorf("result order (-want +got):\n%s", diff)
	}
}

func TestRunErrors(t *testing.T) {
	cfg := parse(t, "schemaVersion: 2.0.0\nfileExistenceTests: [{name: a, path: /a}]\n")
	if _, err := Run(context.Background(), cfg, nil, nil, nil, "x"); err == nil {
		t.Error("Run without an image succeeded")
	}
	img := wrap(t, build(t, nil, nil, layer(t, reg("a", "x"))), "img")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, cfg, img, nil, nil, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context: %v", err)
	}
}

// TestRunNoEngine: a runtime that cannot reach its engine makes Run fail (could not tell),
// never fail a test.
func TestRunNoEngine(t *testing.T) {
	cfg := parse(t, "schemaVersion: 2.0.0\ncommandTests: [{name: a, command: /probe}]\n")
	img := wrap(t, build(t, nil, nil, layer(t, reg("a", "x"))), "img")
	_, err := Run(context.Background(), cfg, img, nil, deadLoader{}, "x")
	if err != nil {
		t.Fatalf("nil runtime: %v", err)
	}
	_, err = Run(context.Background(), cfg, img, deadRuntime{}, deadLoader{}, "x")
	if !errors.Is(err, runtime.ErrNoEngine) {
		t.Fatalf("err = %v, want ErrNoEngine", err)
	}
}

type deadLoader struct{}

func (deadLoader) Ensure(context.Context, v1.Image, string) (string, error) {
	return "", runtime.ErrNoEngine
}

type deadRuntime struct{}

func (deadRuntime) Start(context.Context, runtime.Spec) (runtime.Instance, error) {
	return nil, runtime.ErrNoEngine
}

// TestRunCancelled: cancelling ctx while a command runs ends Run with ctx's error, and the
// container is still removed (TestMain checks).
func TestRunCancelled(t *testing.T) {
	e := newEngine(t)
	img := probeImage(t, nil)
	e.load(t, img)
	cfg := parse(t, "schemaVersion: 2.0.0\ncommandTests: [{name: slow, command: /probe, args: [sleep, 1m]}]\n")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := Run(ctx, cfg, wrap(t, img, "probe"), e.rt, e.rt, testenv.NewRunID("cst"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("Run took %s after its context ended", d)
	}
}

// The compatibility corpus, run unchanged on stand-in images built here.

// debian12OSRelease is Debian 12's own /usr/lib/os-release.
const debian12OSRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`

// distroless12OSRelease is the os-release distroless writes for its Debian 12 images.
const distroless12OSRelease = `PRETTY_NAME="Distroless"
NAME="Debian GNU/Linux"
ID="debian"
VERSION_ID="12"
VERSION="Debian GNU/Linux 12 (bookworm)"
HOME_URL="https://github.com/GoogleContainerTools/distroless"
SUPPORT_URL="https://github.com/GoogleContainerTools/distroless/blob/master/README.md"
BUG_REPORT_URL="https://github.com/GoogleContainerTools/distroless/issues/new"
`

// TestCorpusDistrolessStatic: the test pins distroless's own VERSION line, which neither
// Debian's os-release nor Alpine's has.
func TestCorpusDistrolessStatic(t *testing.T) {
	cfg := corpus(t, "distroless_static_testdata_debian12.yaml")
	osRelease := func(content string) *image.Image {
		return wrap(t, build(t, nil, nil, layer(t, reg("usr/lib/os-release", content), symlink("etc/os-release", "../usr/lib/os-release"))), "static")
	}
	for _, tt := range []struct {
		name string
		img  *image.Image
		want string // "" = pass
	}{
		{"distroless", osRelease(distroless12OSRelease), ""},
		{"debian", osRelease(debian12OSRelease), `not found in file content "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"`},
		{"alpine", wrap(t, testenv.AlpineImage(t, "3.20.3"), "alpine:3.20.3"), `not found in file content "NAME=\"Alpine Linux\"`},
	} {
		results, err := Run(context.Background(), cfg, tt.img, nil, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if r := results[0]; len(results) != 1 || r.Name != "os-release contents" || r.Passed != (tt.want == "") || !strings.Contains(r.Message, tt.want) {
			t.Errorf("%s: %+v", tt.name, results)
		}
	}
}

// distrolessBase is a stand-in for gcr.io/distroless/base: the files its tests name, with
// distroless's users and groups.
func distrolessBase(t testing.TB, drop ...string) v1.Image {
	files := []file{
		dir("tmp/", 0o1777), dir("root/", 0o700), dir("home/nonroot/", 0o700), dir("usr/share/zoneinfo/", 0o755),
		reg("etc/passwd", "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"),
		reg("etc/group", "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n"),
		reg("usr/lib/os-release", "PRETTY_NAME=\"Distroless\"\nNAME=\"Debian GNU/Linux\"\nID=\"debian\"\n"),
		symlink("etc/os-release", "../usr/lib/os-release"),
		reg("etc/ssl/certs/ca-certificates.crt", "-----BEGIN CERTIFICATE-----\n"),
		reg("usr/share/doc/ca-certificates/copyright", "MPL-2.0\n"),
		reg("etc/services", "http 80/tcp www\n"),
		reg("usr/share/doc/tzdata/copyright", "public domain\n"),
		reg("usr/share/zoneinfo/UTC", "TZif2"),
		reg("var/lib/dpkg/status.d/libc6", "Package: libc6\n"),
	}
	kept := slices.DeleteFunc(files, func(f file) bool {
		return slices.ContainsFunc(drop, func(d string) bool { return strings.HasPrefix(f.name, d) })
	})
	return build(t, nil, nil, layer(t, kept...))
}

func TestCorpusDistrolessBase(t *testing.T) {
	cfg := corpus(t, "distroless_base_testdata_base.yaml")
	results, err := Run(context.Background(), cfg, wrap(t, distrolessBase(t), "base"), nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.Passed {
			t.Errorf("%s %s: %s", r.Kind, r.Name, r.Message)
		}
	}
	if len(results) != 17 {
		t.Errorf("%d results, want 17", len(results))
	}
	// Without tzdata, and with a passwd that is no longer exactly distroless's.
	broken := build(t, distrolessBase(t, "usr/share/doc/tzdata/copyright", "usr/share/zoneinfo/"), nil,
		layer(t, reg("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")))
	results, err = Run(context.Background(), cfg, wrap(t, broken, "base-broken"), nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, r := range results {
		if !r.Passed {
			failed = append(failed, string(r.Kind)+":"+r.Name)
		}
	}
	if diff := cmp.Diff([]string{"fileExistence:tzdata_copyright", "fileExistence:tzdata_zoneinfo", "fileContent:known users"}, failed); diff != "" {
		t.Errorf("failed tests (-want +got):\n%s", diff)
	}
}

// TestCorpusDistrolessDebug: the debug image's busybox is 1.37.0; Debian 12's static busybox,
// in the stand-in, is 1.35.0, so exactly the version test fails.
func TestCorpusDistrolessDebug(t *testing.T) {
	e := newEngine(t)
	img := build(t, nil, func(c *v1.Config) { c.Entrypoint = []string{"/busybox/sh"} }, layer(t, exe("busybox/busybox", busybox(t)), symlink("busybox/sh", "busybox")))
	e.load(t, img)
	results, err := Run(context.Background(), corpus(t, "distroless_base_testdata_debug.yaml"), wrap(t, img, "debug"), e.rt, e.rt, testenv.NewRunID("cst"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"command:busybox": "fail", "fileExistence:busybox": "pass"}, outcomes(results)); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s\n%+v", diff, results)
	}
	if msg := results[0].Message; !strings.Contains(msg, `expected "BusyBox v1\\.37\\.0" not found`) || !strings.Contains(msg, "BusyBox v1.35.0") {
		t.Errorf("message %q", msg)
	}
}

// TestCorpusNonrootUser: the distroless nonroot example's /user, here the static probe, runs
// as the image's user on a shell-less image.
func TestCorpusNonrootUser(t *testing.T) {
	e := newEngine(t)
	img := probeImage(t, func(c *v1.Config) { c.User = "nonroot" })
	e.load(t, img)
	cfg := corpus(t, "distroless_examples_nonroot_testdata_user.yaml")
	results, err := Run(context.Background(), cfg, wrap(t, img, "nonroot"), e.rt, e.rt, testenv.NewRunID("cst"))
	if err != nil {
		t.Fatal(err)
	}
	if r := results[0]; len(results) != 1 || !r.Passed {
		t.Fatalf("results %+v", results)
	}
	// As root (the containerRunOptions user overrides the image's), the same test fails.
	cfg.ContainerRunOptions = &ContainerRunOptions{User: "root"}
	results, err = Run(context.Background(), cfg, wrap(t, img, "nonroot"), e.rt, e.rt, testenv.NewRunID("cst"))
	if err != nil {
		t.Fatal(err)
	}
	if r := results[0]; r.Passed || !strings.Contains(r.Message, `expected "User: nonroot" not found`) || !strings.Contains(r.Message, `Uid: 0`) {
		t.Fatalf("as root: %+v", r)
	}
}

func TestCorpusUbuntuMetadata(t *testing.T) {
	cfg := corpus(t, "cst-repo_ubuntu_22_04_metadata_test.yaml")
	good := build(t, nil, func(c *v1.Config) {
		c.Env = []string{"PATH=/usr/bin:/bin", "SOME_KEY=SOME_VAL", "EMPTY_VAR=", `FOO_BAR=FOO\:BAR=BAZ`, "REGEX_VAR=abc-2.1.0"}
		c.Labels = map[string]string{
			"localnet.localdomain.commit_hash": "0123456789abcdef0123456789abcdef01234567",
			"localnet.my-domain.my-label":      "my very own label",
			"label-with-empty-val":             "",
		}
		c.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
		c.Volumes = map[string]struct{}{"/data": {}}
	}, layer(t, reg("etc/hostname", "x")))
	results, err := Run(context.Background(), cfg, wrap(t, good, "metadata"), nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || !results[0].Passed {
		t.Fatalf("results %+v", results)
	}
	results, err = Run(context.Background(), cfg, wrap(t, testenv.AlpineImage(t, "3.20.3"), "alpine:3.20.3"), nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	want := "environment variable SOME_KEY not found in the image config; environment variable EMPTY_VAR not found in the image config; " +
		"environment variable FOO_BAR not found in the image config; environment variable REGEX_VAR not found in the image config; " +
		"label localnet.localdomain.commit_hash not found in the image config; label localnet.my-domain.my-label not found in the image config; " +
		"label label-with-empty-val not found in the image config"
	if results[0].Passed || results[0].Message != want {
		t.Fatalf("on Alpine: %+v\nwant message %q", results[0], want)
	}
}

// TestCorpusUbuntuOnAlpine runs CST's own Ubuntu test file on Alpine: what is Ubuntu-specific
// fails, what any Linux image has passes.
func TestCorpusUbuntuOnAlpine(t *testing.T) {
	e := newEngine(t)
	img := testenv.AlpineImage(t, "3.20.3")
	e.load(t, img)
	results, err := Run(context.Background(), corpus(t, "cst-repo_ubuntu_22_04_test.yaml"), wrap(t, img, "alpine:3.20.3"), e.rt, e.rt, testenv.NewRunID("cst"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"command:apt-get":            "fail", // no apt-get
		"command:apt-config":         "fail",
		"command:path":               "pass", // Alpine's PATH is Docker's default too
		"fileContent:Debian Sources": "fail", // no /etc/apt
		"fileContent:Passwd file":    "fail", // root's shell is /bin/sh
		"fileExistence:Root":         "pass",
		"fileExistence:Date":         "pass", // a link to busybox: the link's bits
		"fileExistence:Hosts File":   "pass",
		"fileExistence:Machine ID":   "fail",
		"fileExistence:Dummy File":   "pass",
		"license:licenseTests[0]":    "skipped",
	}
	if diff := cmp.Diff(want, outcomes(results)); diff != "" {
		for _, r := range results {
			t.Logf("%s %s: %s %s", r.Kind, r.Name, r.Outcome(), r.Message)
		}
		t.Fatalf("outcomes (-want +got):\n%s", diff)
	}
	if msg := result(t, results, KindCommand, "apt-get").Message; !strings.Contains(msg, `command ["apt-get" "help"] did not start`) {
		t.Errorf("apt-get message %q", msg)
	}
}

// TestCorpusFailureOnAlpine: CST's file of tests meant to fail fails, test by test, except
// 'path', whose expectation (Docker's default PATH) holds on Ubuntu and Alpine alike.
func TestCorpusFailureOnAlpine(t *testing.T) {
	e := newEngine(t)
	img := testenv.AlpineImage(t, "3.20.3")
	e.load(t, img)
	results, err := Run(context.Background(), corpus(t, "cst-repo_ubuntu_22_04_failure_test.yaml"), wrap(t, img, "alpine:3.20.3"), e.rt, e.rt, testenv.NewRunID("cst"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"command:bad apt-get-command":     "fail",
		"command:apt-config":              "fail",
		"command:path":                    "pass",
		"fileContent:Debian Sources":      "fail",
		"fileContent:Wrong Retry Policy":  "fail",
		"fileExistence:Fake Dir":          "fail",
		"fileExistence:Wrong permissions": "fail",
		"license:licenseTests[0]":         "skipped",
	}
	if diff := cmp.Diff(want, outcomes(results)); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s", diff)
	}
}

// TestCorpusContainerOptions: options the runtime cannot honour skip the file's command tests
// (no container started); a user it can honour is used.
func TestCorpusContainerOptions(t *testing.T) {
	e := newEngine(t)
	img := testenv.AlpineImage(t, "3.20.3")
	e.load(t, img)
	results, err := Run(context.Background(), corpus(t, "cst-repo_ubuntu_22_04_containeropts_test.yaml"), wrap(t, img, "alpine:3.20.3"), e.rt, e.rt, testenv.NewRunID("cst"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.Skipped || !strings.Contains(r.Message, "containerRunOptions privileged, capabilities, bindMounts not supported") {
			t.Errorf("%s: %+v", r.Name, r)
		}
	}
	results, err = Run(context.Background(), corpus(t, "cst-repo_ubuntu_22_04_containeropts_user_test.yaml"), wrap(t, img, "alpine:3.20.3"), e.rt, e.rt, testenv.NewRunID("cst"))
	if err != nil {
		t.Fatal(err)
	}
	if r := results[0]; r.Outcome() != "fail" || !strings.Contains(r.Message, `command ["bash" "-c" "whoami\napt-get update\n"] did not start`) {
		t.Errorf("bash on Alpine: %+v", r)
	}
}

// TestOutcomeNames pins the outcome words reports use.
func TestOutcomeNames(t *testing.T) {
	got := map[string]string{}
	for name, r := range map[string]TestResult{"p": {Passed: true}, "f": {}, "s": {Skipped: true}, "e": {Errored: true}} {
		got[name] = r.Outcome()
	}
	if want := map[string]string{"p": "pass", "f": "fail", "s": "skipped", "e": "error"}; !maps.Equal(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
}
