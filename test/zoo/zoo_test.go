package zoo

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/plimsoll/plimsoll/internal/sign/signtest"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

var tablePath = flag.String("zoo.table", "", "write the zoo's result table as Markdown to this file")

// bin is the plimsoll binary under test, built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "plimsoll-zoo-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	os.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	bin = filepath.Join(dir, "plimsoll")
	build := exec.Command("go", "build", "-o", bin, "./cmd/plimsoll")
	build.Dir = repoRoot()
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build plimsoll:", err)
		return 1
	}
	code := m.Run()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := testenv.Finish(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		code = 1
	}
	return code
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// check runs `plimsoll check` and returns its exit code and the decoded summary.json.
func check(t *testing.T, args ...string) (int, map[string]any) {
	t.Helper()
	out := t.TempDir()
	cmd := exec.Command(bin, append(append([]string{"check"}, args...), "--report-dir", out, "--no-progress")...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("run plimsoll: %v", err)
	}
	t.Logf("plimsoll check %s → exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatalf("exit %d and no summary.json: %v", code, err)
	}
	var sum map[string]any
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	return code, sum
}

// pick walks a decoded JSON value by keys and indexes; nil where the path does not exist.
func pick(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

// apkPkg is one entry of an apk database.
type apkPkg struct{ name, version, origin string }

// apkFiles are the files that make a FROM scratch image read as Alpine 3.20 with these apk
// packages installed (as demo/ does): /etc/os-release and /lib/apk/db/installed.
func apkFiles(pkgs ...apkPkg) []testenv.TestAppFile {
	var db strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&db, "P:%s\nV:%s\nA:x86_64\no:%s\n\n", p.name, p.version, p.origin)
	}
	return []testenv.TestAppFile{
		{Path: "/etc", Dir: true},
		{Path: "/etc/os-release", Body: []byte("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n")},
		{Path: "/lib", Dir: true},
		{Path: "/lib/apk", Dir: true},
		{Path: "/lib/apk/db", Dir: true},
		{Path: "/lib/apk/db/installed", Body: []byte(db.String())},
	}
}

// The package sets of the test app images.
var (
	musl     = apkPkg{"musl", "1.2.5-r0", "musl"}
	libssl3  = apkPkg{"libssl3", "3.3.2-r0", "openssl"}
	libcrypt = apkPkg{"libcrypto3", "3.3.2-r0", "openssl"}
	zlibOld  = apkPkg{"zlib", "1.3.1-r0", "zlib"}
	zlibNew  = apkPkg{"zlib", "1.3.1-r1", "zlib"}
	caOld    = apkPkg{"ca-certificates-bundle", "20240226-r0", "ca-certificates"}
	caNew    = apkPkg{"ca-certificates-bundle", "20240705-r0", "ca-certificates"}
	expat    = apkPkg{"libexpat", "2.6.2-r0", "expat"}
	// libssl11 and libcrypto11 are OpenSSL 1.1 as Alpine 3.16 packaged it.
	libssl11    = apkPkg{"libssl1.1", "1.1.1w-r1", "openssl"}
	libcrypto11 = apkPkg{"libcrypto1.1", "1.1.1w-r1", "openssl"}
)

// advisories are the zoo's vulnerability database. The IDs are made up.
const advisories = `
- {id: CVE-2099-3001, namespace: "alpine:3.20", package: expat, fixedIn: 2.6.3-r0, versionFormat: apk, severity: Critical}
- {id: CVE-2099-3002, namespace: "alpine:3.20", package: zlib, fixedIn: 1.3.1-r1, versionFormat: apk, severity: High}
`

// basePolicy is the policy of the test app pairs: how to run and probe it. The images live in
// loopback registry, each with an SBOM attached (the seed policy requires one).
const basePolicy = `apiVersion: plimsoll/v1
kind: Policy
# The zoo covers the faults the layers it runs can catch; its performance faults are not
# covered yet (see the table), so the plans keep to the other layers and stay fast.
plan:
  patch: {layers: [diff, smoke, harden]}
  minor: {layers: [diff, smoke, functional, harden]}
  major: {layers: [diff, smoke, functional, harden, soak]}
app:
  port: 8080
  health: {http: /healthz, timeout: 20s}
smoke:
  stayUp: 1s
  binaries: [/usr/local/bin/testapp]
  requests:
    - {path: /, expect: "hello from testapp"}
`

// writePolicy writes body to a policy file of the test.
func writePolicy(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// zooRegistry is the loopback registry (with the referrers API) that holds the zoo's pairs.
var zooRegistry string

// pushPair pushes old and new to the zoo's registry as REPO:OLDTAG and REPO:NEWTAG (the tag is
// what the plan reads), each with an SPDX SBOM attached as an OCI referrer, and returns their
// references and the repository.
func pushPair(t *testing.T, repoName string, old, new v1.Image, oldTag, newTag string) (string, string, name.Repository) {
	t.Helper()
	repo, err := name.NewRepository(zooRegistry + "/zoo/" + repoName)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []struct {
		tag string
		img v1.Image
	}{{oldTag, old}, {newTag, new}} {
		if err := remote.Write(repo.Tag(e.tag), e.img); err != nil {
			t.Fatal(err)
		}
		d, err := e.img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		signtest.PutReferrer(t, repo, d, "application/spdx+json", "application/spdx+json",
			[]byte(`{"spdxVersion":"SPDX-2.3","name":"`+repoName+`"}`), nil)
	}
	return "registry:" + repo.Tag(oldTag).String(), "registry:" + repo.Tag(newTag).String(), repo
}

// repoOf is the zoo's repository name for the (sub)test t: its last name element, lowercased.
func repoOf(t *testing.T) string {
	n := t.Name()
	return strings.ToLower(n[strings.LastIndex(n, "/")+1:])
}

// withConfig returns img with its config changed by edit.
func withConfig(t *testing.T, img v1.Image, edit func(*v1.Config)) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	edit(&cf.Config)
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rebuilt returns img with the same layers and a new creation time, as a rebuild makes it.
func rebuilt(t *testing.T, img v1.Image) v1.Image {
	t.Helper()
	out, err := mutate.CreatedAt(img, v1.Time{Time: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tarEntry is one entry of a layer tarLayer writes.
type tarEntry struct {
	path string
	body string
	dir  bool
}

// tarLayer is a layer of entries; a base name starting with ".wh." is an OCI whiteout.
func tarLayer(t *testing.T, entries ...tarEntry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: strings.TrimPrefix(e.path, "/"), Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(e.body)), ModTime: time.Unix(0, 0)}
		if e.dir {
			h.Name, h.Mode, h.Typeflag, h.Size = h.Name+"/", 0o755, tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
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

// alpineApp is a small app on the real Alpine 3.20.3 root filesystem: its start script runs
// the TLS helper /usr/bin/ssl_client (linked against libssl.so.3), stops when the helper
// cannot be loaded (exit 127), then serves /www with busybox httpd on 8080 as nobody.
func alpineApp(t *testing.T) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(testenv.AlpineImage(t, "3.20.3"), tarLayer(t,
		tarEntry{path: "/www", dir: true},
		tarEntry{path: "/www/index.html", body: "hello from alpine-app\n"},
		tarEntry{path: "/www/healthz", body: "ok\n"},
	))
	if err != nil {
		t.Fatal(err)
	}
	return withConfig(t, img, func(c *v1.Config) {
		c.Entrypoint = []string{"/bin/sh", "-c", "/usr/bin/ssl_client >/dev/null; [ $? = 127 ] && exit 127; exec /bin/busybox httpd -f -v -p 8080 -h /www"}
		c.Cmd = nil
		c.User = "65534:65534"
		c.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	})
}

const alpinePolicy = `apiVersion: plimsoll/v1
kind: Policy
# The zoo covers the faults the layers it runs can catch; its performance faults are not
# covered yet (see the table), so the plans keep to the other layers and stay fast.
plan:
  patch: {layers: [diff, smoke, harden]}
  minor: {layers: [diff, smoke, functional, harden]}
  major: {layers: [diff, smoke, functional, harden, soak]}
app:
  port: 8080
  health: {http: /healthz, timeout: 20s}
smoke:
  stayUp: 1s
  binaries: [/usr/bin/ssl_client]
  requests:
    - {path: /, expect: "hello from alpine-app"}
harden:
  uid: 65534
  allowShell: true
`

// suiteFiles is the app's own test suite, a TAP script run by functional.command: it checks
// what the image ships (apkFiles makes /etc). port is the default port written to /etc/testapp/port.
func suiteFiles(port string) []testenv.TestAppFile {
	return []testenv.TestAppFile{
		{Path: "/etc/testapp", Dir: true},
		{Path: "/etc/testapp/port", Body: []byte(port + "\n")},
		{Path: "/tests", Dir: true},
		{Path: "/tests/suite.sh", Mode: 0o755, Body: []byte(`echo "TAP version 13"
echo "1..3"
if [ -x /usr/local/bin/testapp ]; then echo "ok 1 - the app is installed"; else echo "not ok 1 - the app is installed"; fi
if [ "$(cat /etc/testapp/port)" = 8080 ]; then echo "ok 2 - the default port is 8080"; else echo "not ok 2 - the default port is 8080"; fi
TESTAPP_MODE=bogus /usr/local/bin/testapp 2>/dev/null
if [ $? = 64 ]; then echo "ok 3 - a bad mode is a usage error"; else echo "not ok 3 - a bad mode is a usage error"; fi
`)},
	}
}

// zooCase is one pair of the zoo.
type zooCase struct {
	name, fault string
	// pair builds the pair and returns OLD's and NEW's references and the policy file.
	pair func(t *testing.T) (oldRef, newRef, policy string)
	// plan is the plan kind the pair must get.
	plan string
	// decision is the expected verdict; layer and check name the first reason (0 and "" for a GO).
	decision string
	layer    float64
	check    string
	// also is a further assertion on the summary ("" when it holds).
	also func(sum map[string]any) string
}

// row is one line of the result table.
type row struct {
	pair, fault, expected, got, caught, took string
}

func TestZoo(t *testing.T) {
	testenv.Docker(t)
	zooRegistry = signtest.StartRegistry(t, true)
	db := buildVulnDB(t)
	base := []apkPkg{musl, libssl3, libcrypt, zlibOld, caOld}
	app := func(version string, opts testenv.TestAppOptions, pkgs ...apkPkg) v1.Image {
		opts.Env = append([]string{"TESTAPP_VERSION=" + version}, opts.Env...)
		opts.Files = append(apkFiles(pkgs...), opts.Files...)
		return testenv.TestAppImage(t, opts)
	}
	good := app("1.4.2", testenv.TestAppOptions{}, base...)
	pol := func(extra string) func(t *testing.T) string {
		return func(t *testing.T) string {
			if extra == "" {
				return writePolicy(t, basePolicy)
			}
			return writePolicy(t, basePolicy+"harden:\n"+extra)
		}
	}
	relaxed := pol("")
	faulty := func(opts testenv.TestAppOptions, policy func(t *testing.T) string) func(t *testing.T) (string, string, string) {
		return func(t *testing.T) (string, string, string) {
			o, n, _ := pushPair(t, repoOf(t), good, app("1.4.3", opts, base...), "1.4.2", "1.4.3")
			return o, n, policy(t)
		}
	}
	cases := []zooCase{
		{name: "identical digest", fault: "none: the same image under a new tag", plan: "same-digest", decision: "GO",
			pair: func(t *testing.T) (string, string, string) {
				o, n, _ := pushPair(t, repoOf(t), good, good, "1.4.2", "1.4.2-again")
				return o, n, relaxed(t)
			}},
		{name: "rebuild same content", fault: "none: same layers, new creation time", plan: "patch", decision: "GO",
			pair: func(t *testing.T) (string, string, string) {
				o, n, _ := pushPair(t, repoOf(t), good, rebuilt(t, good), "1.4.2", "1.4.3")
				return o, n, relaxed(t)
			}},
		{name: "harmless package upgrade", fault: "none: ca-certificates-bundle 20240226-r0 → 20240705-r0", plan: "patch", decision: "GO",
			pair: func(t *testing.T) (string, string, string) {
				o, n, _ := pushPair(t, repoOf(t), good, app("1.4.3", testenv.TestAppOptions{}, musl, libssl3, libcrypt, zlibOld, caNew), "1.4.2", "1.4.3")
				return o, n, relaxed(t)
			}},
		{name: "vulnerability fixed", fault: "none: zlib 1.3.1-r0 → 1.3.1-r1 fixes CVE-2099-3002 (high)", plan: "patch", decision: "GO",
			pair: func(t *testing.T) (string, string, string) {
				o, n, _ := pushPair(t, repoOf(t), good, app("1.4.3", testenv.TestAppOptions{}, musl, libssl3, libcrypt, zlibNew, caOld), "1.4.2", "1.4.3")
				return o, n, relaxed(t)
			},
			also: func(sum map[string]any) string {
				if m := resultMessage(sum, 1, "vulnerabilities"); !strings.Contains(m, "1 fixed") {
					return fmt.Sprintf("vulnerabilities say %q, want 1 fixed", m)
				}
				return ""
			}},
		{name: "shared library removed", fault: "libssl.so.3 deleted from Alpine 3.20.3: /usr/bin/ssl_client cannot load", plan: "patch",
			decision: "NO-GO", layer: 2, check: "logs",
			pair: func(t *testing.T) (string, string, string) {
				old := alpineApp(t)
				new, err := mutate.AppendLayers(old, tarLayer(t,
					tarEntry{path: "/lib/.wh.libssl.so.3"}, tarEntry{path: "/usr/lib/.wh.libssl.so.3"}))
				if err != nil {
					t.Fatal(err)
				}
				o, n, _ := pushPair(t, repoOf(t), old, new, "1.4.2", "1.4.3")
				return o, n, writePolicy(t, alpinePolicy)
			}},
		{name: "exit at start", fault: "TESTAPP_MODE=exit: exits 3 at once", plan: "patch", decision: "NO-GO", layer: 2, check: "start",
			pair: faulty(testenv.TestAppOptions{Env: []string{"TESTAPP_MODE=exit"}}, relaxed)},
		{name: "crash at start", fault: "TESTAPP_MODE=crash: nil-dereference panic, exit 2", plan: "patch", decision: "NO-GO", layer: 2, check: "start",
			pair: faulty(testenv.TestAppOptions{Env: []string{"TESTAPP_MODE=crash"}}, relaxed)},
		{name: "panic after start", fault: "TESTAPP_MODE=panic-after-start: a Go panic in the logs, keeps serving", plan: "patch", decision: "NO-GO", layer: 2, check: "logs",
			pair: faulty(testenv.TestAppOptions{Env: []string{"TESTAPP_MODE=panic-after-start"}}, relaxed)},
		{name: "health endpoint broken", fault: "TESTAPP_MODE=nohealth: /healthz answers 503", plan: "patch", decision: "NO-GO", layer: 2, check: "health",
			pair: faulty(testenv.TestAppOptions{Env: []string{"TESTAPP_MODE=nohealth"}}, relaxed)},
		{name: "changed entrypoint", fault: "ENTRYPOINT testapp → testapp serve (an unknown command)", plan: "minor", decision: "NO-GO", layer: 2, check: "start",
			pair: func(t *testing.T) (string, string, string) {
				new := withConfig(t, app("1.4.3", testenv.TestAppOptions{}, base...), func(c *v1.Config) {
					c.Entrypoint = []string{testenv.TestAppPath, "serve"}
				})
				o, n, _ := pushPair(t, repoOf(t), good, new, "1.4.2", "1.4.3")
				return o, n, relaxed(t)
			}},
		{name: "runs as root", fault: "USER 0:0", plan: "minor", decision: "NO-GO", layer: 5, check: "user",
			pair: faulty(testenv.TestAppOptions{User: "0:0"}, relaxed)},
		{name: "shell added", fault: "/bin/sh (busybox) added; the policy allows no shell", plan: "patch", decision: "NO-GO", layer: 5, check: "shell",
			pair: faulty(testenv.TestAppOptions{Shell: true}, relaxed)},
		{name: "writes to the root filesystem", fault: "TESTAPP_MODE=writeroot under harden.readOnlyRoot", plan: "patch", decision: "NO-GO", layer: 5, check: "read-only-root",
			pair: faulty(testenv.TestAppOptions{Env: []string{"TESTAPP_MODE=writeroot"}}, pol("  readOnlyRoot: true\n"))},
		{name: "new critical vulnerability", fault: "libexpat 2.6.2-r0 added, affected by CVE-2099-3001 (critical)", plan: "patch", decision: "NO-GO", layer: 1, check: "vulnerabilities",
			pair: func(t *testing.T) (string, string, string) {
				o, n, _ := pushPair(t, repoOf(t), good, app("1.4.3", testenv.TestAppOptions{}, append(base, expat)...), "1.4.2", "1.4.3")
				return o, n, relaxed(t)
			},
			also: func(sum map[string]any) string {
				if m := resultMessage(sum, 1, "vulnerabilities"); !strings.Contains(m, "CVE-2099-3001") {
					return fmt.Sprintf("vulnerabilities say %q, want CVE-2099-3001 named", m)
				}
				return ""
			}},
		{name: "failing test in the suite", fault: "default port 8080 → 8081: 1 of 3 tests of the app's TAP suite fails", plan: "minor", decision: "NO-GO", layer: 3, check: "suite",
			pair: func(t *testing.T) (string, string, string) {
				old := app("1.4.2", testenv.TestAppOptions{Shell: true, Files: suiteFiles("8080")}, base...)
				new := app("1.5.0", testenv.TestAppOptions{Shell: true, Files: suiteFiles("8081")}, base...)
				o, n, _ := pushPair(t, repoOf(t), old, new, "1.4.2", "1.5.0")
				return o, n, writePolicy(t, basePolicy+"harden:\n  allowShell: true\n"+
					"functional:\n  command: [/bin/sh, /tests/suite.sh]\n  format: tap\n")
			}},
		{name: "unsigned image", fault: "1.4.3 pushed without a signature; harden.signature.required", plan: "patch", decision: "NO-GO", layer: 5, check: "signature",
			pair: func(t *testing.T) (string, string, string) {
				o, n, repo := pushPair(t, repoOf(t), good, app("1.4.3", testenv.TestAppOptions{}, base...), "1.4.2", "1.4.3")
				signer := signtest.NewKeySigner(t)
				d, _ := good.Digest()
				signtest.SignClassic(t, repo, d, d, signer)
				return o, n, pol("  signature: {required: true, key: " + signer.PubPath + "}\n")(t)
			}},
		{name: "OpenSSL major version changed", fault: "apk DB: libssl1.1 1.1.1w-r1 → libssl3 3.3.2-r0 under a patch tag (stand-in: package database only)",
			// Every layer that is built passes: the plan alone holds the gate, as its promotion
			// rule needs L4 perf and L6 soak, which are not built.
			plan: "major", decision: "CAUTION",
			pair: func(t *testing.T) (string, string, string) {
				old := app("1.4.2", testenv.TestAppOptions{}, musl, libssl11, libcrypto11, zlibOld, caOld)
				o, n, _ := pushPair(t, repoOf(t), old, good, "1.4.2", "1.4.3")
				return o, n, relaxed(t)
			},
			also: func(sum map[string]any) string {
				reasons := fmt.Sprint(pick(sum, "plan", "reasons"))
				if !strings.Contains(reasons, "OpenSSL 1.1.1w-r1→3.3.2-r0") || !strings.Contains(reasons, "(major)") {
					return fmt.Sprintf("plan reasons %s do not name the OpenSSL major change", reasons)
				}
				return ""
			}},
	}
	var rows []row
	for _, c := range cases {
		start := time.Now()
		var got, caught string
		ok := t.Run(c.name, func(t *testing.T) {
			o, n, p := c.pair(t)
			code, sum := check(t, o, n, "--policy", p, "--vuln-db", db)
			decision, _ := pick(sum, "verdict", "decision").(string)
			kind, _ := pick(sum, "plan", "kind").(string)
			got = decision
			first, _ := pick(sum, "verdict", "reasons", 0).(map[string]any)
			switch {
			case first != nil && first["check"] != nil:
				caught = fmt.Sprintf("L%v %v (%v)", first["layer"], first["check"], first["status"])
			case decision != "GO":
				caught = fmt.Sprintf("plan %s: promotion rule not met", kind)
			}
			t.Logf("verdict reasons: %v", pick(sum, "verdict", "reasons"))
			if want := map[string]int{"GO": 0, "CAUTION": 10, "NO-GO": 20}[c.decision]; code != want || decision != c.decision {
				t.Errorf("exit %d, decision %q; want %d, %s", code, decision, want, c.decision)
			}
			if kind != c.plan {
				t.Errorf("plan kind %q, want %s", kind, c.plan)
			}
			if c.check != "" && (first == nil || first["layer"] != c.layer || first["check"] != c.check || first["status"] != "fail") {
				t.Errorf("first reason %v, want L%v %s fail", first, c.layer, c.check)
			}
			if c.also != nil {
				if msg := c.also(sum); msg != "" {
					t.Error(msg)
				}
			}
		})
		expected := c.decision
		switch {
		case c.check != "":
			expected += fmt.Sprintf(" (L%v %s)", c.layer, c.check)
		case c.decision != "GO":
			expected += " (plan " + c.plan + ")"
		}
		if !ok {
			got = "**" + got + "** (regression)"
		}
		rows = append(rows, row{c.name, c.fault, expected, got, caught, time.Since(start).Round(100 * time.Millisecond).String()})
	}
	for _, nc := range []struct{ name, fault string }{
		{"10 % slower handler", "TESTAPP_SLOW_US on /"},
		{"memory leak", "TESTAPP_LEAK_KB_PER_REQ"},
		{"FD leak", "TESTAPP_LEAK_FDS_PER_SEC"},
	} {
		rows = append(rows, row{nc.name, nc.fault, "NO-GO (L4/L6)", "not covered yet (L4 in check, its power not shown here; L6 not built)", "—", "—"})
	}
	if *tablePath != "" {
		if err := writeTable(*tablePath, rows); err != nil {
			t.Fatal(err)
		}
	}
}

// resultMessage is the message of the named check of a layer in summary.json.
func resultMessage(sum map[string]any, layer float64, name string) string {
	ls, _ := pick(sum, "layers").([]any)
	for _, l := range ls {
		lm, _ := l.(map[string]any)
		if lm["layer"] != layer {
			continue
		}
		rs, _ := lm["results"].([]any)
		for _, r := range rs {
			rm, _ := r.(map[string]any)
			if rm["check"] == name {
				m, _ := rm["message"].(string)
				return m
			}
		}
	}
	return ""
}

// buildVulnDB builds the zoo's database with `plimsoll vulndb build`.
func buildVulnDB(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	recs := filepath.Join(dir, "advisories.yaml")
	if err := os.WriteFile(recs, []byte(advisories), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "db")
	if b, err := exec.Command(bin, "vulndb", "build", recs, "--out", db).CombinedOutput(); err != nil {
		t.Fatalf("vulndb build: %v\n%s", err, b)
	}
	return db
}

// writeTable writes the result table as Markdown.
func writeTable(path string, rows []row) error {
	var b strings.Builder
	b.WriteString("# What plimsoll catches\n\n")
	b.WriteString("The regression zoo (test/zoo): pairs of images (old → new) built locally, each new image\n")
	b.WriteString("carrying one fault or none, checked with `plimsoll check` and the plan the tags and content imply.\n")
	b.WriteString("Regenerate this file with:\n\n")
	b.WriteString("    go test ./test/zoo -run TestZoo -args -zoo.table=$(pwd)/zoo/README.md\n\n")
	b.WriteString("or `make zoo`. The test app pairs are FROM scratch images of test/testapp with an Alpine 3.20\n")
	b.WriteString("apk database beside it (as demo/ does), pushed to a loopback registry as app:1.4.2 → app:1.4.3\n")
	b.WriteString("(patch; 1.5.0 for a minor) with an SBOM referrer each; the shared-library pair is the real\n")
	b.WriteString("Alpine 3.20.3 rootfs; the OpenSSL pair is a stand-in: only the apk database says libssl1.1 → libssl3.\n")
	b.WriteString("The vulnerability database is built with `plimsoll vulndb build` from made-up advisories.\n\n")
	b.WriteString("| pair | fault | expected | got | caught by (first reason) | time |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.pair, strings.ReplaceAll(r.fault, "|", "\\|"), r.expected, r.got, r.caught, r.took)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
