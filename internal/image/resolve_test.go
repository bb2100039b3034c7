package image

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

// alpines are the two real Alpine images and what Facts must find in them; the versions were
// read from lib/apk/db/installed in the minirootfs tarballs.
var alpines = []struct {
	version string
	want    Facts
}{
	{"3.19.4", Facts{OSID: "alpine", OSVersionID: "3.19.4", OSPrettyName: "Alpine Linux v3.19", Libc: "musl",
		LibcVersion: "1.2.4_git20230717-r4", OpenSSLVersion: "3.1.7-r0", Cmd: []string{"/bin/sh"},
		Shells: []string{"/bin/sh", "/bin/ash", "/bin/busybox"}}},
	{"3.20.3", Facts{OSID: "alpine", OSVersionID: "3.20.3", OSPrettyName: "Alpine Linux v3.20", Libc: "musl",
		LibcVersion: "1.2.5-r0", OpenSSLVersion: "3.3.2-r0", Cmd: []string{"/bin/sh"},
		Shells: []string{"/bin/sh", "/bin/ash", "/bin/busybox"}}},
}

// hermetic keeps the test's registry look-ups away from the machine's Docker credentials.
func hermetic(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
}

func push(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
}

// TestResolveAlpineEveryTransport reads each Alpine image through all four transports, with
// and without the transport prefix, and checks they agree.
func TestResolveAlpineEveryTransport(t *testing.T) {
	hermetic(t)
	testenv.Docker(t)
	host := testenv.Registry(t, nil)
	for _, alpine := range alpines {
		v := alpine.version
		t.Run(v, func(t *testing.T) {
			src := testenv.AlpineImage(t, v)
			wantDigest, err := src.Digest()
			if err != nil {
				t.Fatal(err)
			}
			wantConfig, _ := src.ConfigName()
			srcConfig, _ := src.ConfigFile()

			dir := t.TempDir()
			layoutDir := filepath.Join(dir, "alpine")
			writeLayout(t, layoutDir, map[string]v1.Image{v: src})
			archive := filepath.Join(dir, "alpine.tar")
			tag, err := name.NewTag("alpine:" + v)
			if err != nil {
				t.Fatal(err)
			}
			if err := tarball.WriteToFile(archive, tag, src); err != nil {
				t.Fatal(err)
			}
			pushed := host + "/plimsoll/alpine:" + v
			push(t, pushed, src)
			loaded := fmt.Sprintf("plimsoll-image-test-%d/alpine:%s", os.Getpid(), v)
			testenv.LoadIntoDaemon(t, src, loaded)

			wantKey := ""
			for _, tc := range []struct {
				ref, name string
				transport Transport
			}{
				{"oci-dir:" + layoutDir + ":" + v, "alpine:" + v, OCIDir},
				{layoutDir, "alpine:" + v, OCIDir},
				{"docker-archive:" + archive, "alpine:" + v, DockerArchive},
				{archive, "alpine:" + v, DockerArchive},
				{"registry:" + pushed, pushed, Registry},
				{pushed, pushed, Registry}, // not in the daemon, so from the registry
				{"docker:" + loaded, loaded, Daemon},
				{loaded, loaded, Daemon},
			} {
				t.Run(strings.ReplaceAll(tc.ref, "/", "_"), func(t *testing.T) {
					start := time.Now()
					img, err := Resolve(t.Context(), tc.ref, Options{})
					if err != nil {
						t.Fatal(err)
					}
					took := time.Since(start)
					if img.Ref != tc.ref || img.Transport != tc.transport || img.Name != tc.name {
						t.Errorf("Resolve(%q) = ref %q, transport %q, name %q; want transport %q, name %q",
							tc.ref, img.Ref, img.Transport, img.Name, tc.transport, tc.name)
					}
					if wantRepo := strings.TrimSuffix(pushed, ":"+v); (tc.transport == Registry) != (img.Repository == wantRepo) ||
						(tc.transport != Registry && img.Repository != "") {
						t.Errorf("Resolve(%q).Repository = %q; want %q for a registry image, else \"\"", tc.ref, img.Repository, wantRepo)
					}
					if tc.transport == Daemon {
						t.Logf("daemon: resolved in %v; manifest digest %s, source's %s (equal: %v)", took, img.Digest, wantDigest, img.Digest == wantDigest)
					} else if img.Digest != wantDigest {
						t.Errorf("digest %s, want %s", img.Digest, wantDigest)
					}
					if got, _ := img.Img.ConfigName(); got != wantConfig {
						t.Errorf("config digest %s, want %s", got, wantConfig)
					}
					if d := cmp.Diff(srcConfig.RootFS.DiffIDs, img.Config.RootFS.DiffIDs); d != "" {
						t.Errorf("diffIDs (-want +got):\n%s", d)
					}
					key, err := img.LayerKey()
					if err != nil {
						t.Fatal(err)
					}
					if wantKey == "" {
						wantKey = key
					} else if key != wantKey {
						t.Errorf("LayerKey %s, want %s as through the other transports", key, wantKey)
					}
					facts, err := img.Facts(t.Context())
					if err != nil {
						t.Fatal(err)
					}
					if d := cmp.Diff(alpine.want, facts); d != "" {
						t.Errorf("Facts (-want +got):\n%s", d)
					}
					files, err := img.ReadFiles(t.Context(), "/etc/alpine-release", "/usr/lib/libssl.so.3")
					if err != nil {
						t.Fatal(err)
					}
					if got := string(files["/etc/alpine-release"]); got != v+"\n" {
						t.Errorf("/etc/alpine-release = %q", got)
					}
					if len(files["/usr/lib/libssl.so.3"]) < 100_000 { // a link to /lib/libssl.so.3
						t.Errorf("/usr/lib/libssl.so.3: %d bytes", len(files["/usr/lib/libssl.so.3"]))
					}
					tmp := img.tmp
					if (tmp != "") != (tc.transport == Daemon) {
						t.Errorf("temporary file %q for a %s image", tmp, tc.transport)
					}
					if err := img.Close(); err != nil {
						t.Fatal(err)
					}
					if _, err := os.Stat(tmp); tmp != "" && !errors.Is(err, os.ErrNotExist) {
						t.Errorf("Close left %s: %v", tmp, err)
					}
					if err := img.Close(); err != nil {
						t.Errorf("second Close: %v", err)
					}
				})
			}
		})
	}
}

// checkOneLine checks err wraps want, names ref and is one readable line.
func checkOneLine(t *testing.T, ref string, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("Resolve(%q) succeeded, want %v", ref, want)
	}
	msg := err.Error()
	t.Logf("%s", msg)
	if want != nil && !errors.Is(err, want) {
		t.Errorf("Resolve(%q): %v; want it to wrap %q", ref, err, want)
	}
	if strings.ContainsAny(msg, "\n\r") || len(msg) > 1000 {
		t.Errorf("error is not one readable line: %q", msg)
	}
	if ref != "" && !strings.HasPrefix(msg, ref+": ") {
		t.Errorf("error %q does not start with the reference", msg)
	}
}

func TestResolveErrors(t *testing.T) {
	hermetic(t)
	dir := t.TempDir()
	a, b := testenv.AlpineImage(t, "3.19.4"), testenv.AlpineImage(t, "3.20.3")

	twoImages := filepath.Join(dir, "two")
	writeLayout(t, twoImages, map[string]v1.Image{"3.19.4": a, "3.20.3": b})
	notLayout := filepath.Join(dir, "plain")
	if err := os.Mkdir(notLayout, 0o755); err != nil {
		t.Fatal(err)
	}

	archive := filepath.Join(dir, "two.tar")
	err := tarball.MultiWriteToFile(archive, map[name.Tag]v1.Image{
		name.MustParseReference("alpine:3.19.4").(name.Tag): a,
		name.MustParseReference("alpine:3.20.3").(name.Tag): b,
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzipped(t, raw)
	truncatedGz := filepath.Join(dir, "truncated.tar.gz")
	writeFile(t, truncatedGz, gz[:len(gz)/2])
	truncatedTar := filepath.Join(dir, "truncated.tar")
	writeFile(t, truncatedTar, raw[:len(raw)/3])
	notTar := filepath.Join(dir, "notes.txt")
	writeFile(t, notTar, []byte("not a tarball\n"))

	host := testenv.Registry(t, nil)
	push(t, host+"/plimsoll/alpine:3.20.3", b)

	for _, tc := range []struct {
		ref  string
		want error
	}{
		{"", ErrBadReference},
		{"registry:UPPER/case::x", ErrBadReference},
		{"registry:" + host + "/plimsoll/alpine:bad tag", ErrBadReference},
		{"docker:", ErrBadReference},
		{"oci-archive:alpine.tar", ErrBadReference},
		{"https://alice:hunter2@registry.example/app:1", ErrBadReference},
		{"oci-dir:" + filepath.Join(dir, "missing"), ErrNotFound},
		{"docker-archive:" + filepath.Join(dir, "missing.tar"), ErrNotFound},
		{filepath.Join(dir, "missing.tar"), ErrNotFound},
		{"./missing-image.tar", ErrNotFound},
		{"docker-archive:" + truncatedGz, ErrUnreadable},
		{truncatedGz, ErrUnreadable},
		{"docker-archive:" + truncatedTar, ErrUnreadable},
		{"docker-archive:" + notTar, ErrUnreadable},
		{"docker-archive:" + archive, ErrBadReference},           // two images, no selector
		{"docker-archive:" + archive + ":alpine:9", ErrNotFound}, // no such tag
		{"docker-archive:" + twoImages, ErrBadReference},         // a directory
		{"oci-dir:" + twoImages, ErrBadReference},                // two images, no selector
		{"oci-dir:" + twoImages + ":9.9.9", ErrNotFound},
		{"oci-dir:" + twoImages + "@" + digest, ErrNotFound},
		{"oci-dir:" + notLayout, ErrUnreadable},
		{"oci-dir:" + archive, ErrBadReference}, // a file
		{"registry:" + host + "/plimsoll/alpine:9.9.9", ErrNotFound},
		{"registry:" + host + "/plimsoll/absent:1", ErrNotFound},
		{"registry:" + host + "/plimsoll/alpine@" + digest, ErrNotFound},
	} {
		t.Run(strings.ReplaceAll(tc.ref, "/", "_"), func(t *testing.T) {
			_, err := Resolve(t.Context(), tc.ref, Options{})
			checkOneLine(t, redactRef(tc.ref), err, tc.want)
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// TestResolveSelects picks images out of layouts and archives holding several.
func TestResolveSelects(t *testing.T) {
	dir := t.TempDir()
	a, b := testenv.AlpineImage(t, "3.19.4"), testenv.AlpineImage(t, "3.20.3")
	da, _ := a.Digest()
	db, _ := b.Digest()

	lay := filepath.Join(dir, "multi")
	writeLayout(t, lay, map[string]v1.Image{"3.19.4": a, "docker.io/library/alpine:3.20.3": b})
	colon := filepath.Join(dir, "odd:name")
	writeLayout(t, colon, map[string]v1.Image{"": a})

	archive := filepath.Join(dir, "two.tar")
	err := tarball.MultiWriteToFile(archive, map[name.Tag]v1.Image{
		name.MustParseReference("alpine:3.19.4").(name.Tag):                a,
		name.MustParseReference("localhost:5000/alpine:3.20.3").(name.Tag): b,
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(archive)
	archiveGz := filepath.Join(dir, "two.tar.gz")
	writeFile(t, archiveGz, gzipped(t, raw))

	for _, tc := range []struct {
		ref, name string
		digest    v1.Hash
	}{
		{"oci-dir:" + lay + ":3.19.4", "multi:3.19.4", da},
		{"oci-dir:" + lay + ":3.20.3", "docker.io/library/alpine:3.20.3", db},
		{"oci-dir:" + lay + ":docker.io/library/alpine:3.20.3", "docker.io/library/alpine:3.20.3", db},
		{"oci-dir:" + lay + "@" + db.String(), "docker.io/library/alpine:3.20.3", db},
		{"oci-dir:" + colon, "", da},
		{colon, "", da},
		{"docker-archive:" + archive + ":alpine:3.19.4", "alpine:3.19.4", da},
		{"docker-archive:" + archive + ":localhost:5000/alpine:3.20.3", "localhost:5000/alpine:3.20.3", db},
		{"docker-archive:" + archiveGz + ":localhost:5000/alpine:3.20.3", "localhost:5000/alpine:3.20.3", db},
	} {
		t.Run(strings.ReplaceAll(tc.ref, "/", "_"), func(t *testing.T) {
			img, err := Resolve(t.Context(), tc.ref, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if img.Name != tc.name || img.Digest != tc.digest {
				t.Errorf("Resolve(%q) = name %q, digest %s; want %q, %s", tc.ref, img.Name, img.Digest, tc.name, tc.digest)
			}
		})
	}
}

func TestResolveFromDaemon(t *testing.T) {
	hermetic(t)
	testenv.Docker(t)
	ref := fmt.Sprintf("docker:plimsoll-image-test-%d/absent:1", os.Getpid())
	_, err := Resolve(t.Context(), ref, Options{})
	checkOneLine(t, ref, err, ErrNotFound)

	// A bare reference found in neither place names both.
	host := testenv.Registry(t, nil)
	bare := host + "/plimsoll/absent:1"
	_, err = Resolve(t.Context(), bare, Options{})
	checkOneLine(t, bare, err, ErrNotFound)
	for _, want := range []string{"docker daemon", "registry " + host} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say it tried the %s", err, want)
		}
	}
}

// TestResolveWithoutDaemon: with no daemon answering, a bare reference goes to the registry.
func TestResolveWithoutDaemon(t *testing.T) {
	hermetic(t)
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	host := testenv.Registry(t, nil)
	pushed := host + "/plimsoll/alpine:3.20.3"
	src := testenv.AlpineImage(t, "3.20.3")
	push(t, pushed, src)

	img, err := Resolve(t.Context(), pushed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := src.Digest(); img.Transport != Registry || img.Digest != want {
		t.Errorf("Resolve(%q) = %s %s, want registry %s", pushed, img.Transport, img.Digest, want)
	}

	absent := host + "/plimsoll/absent:1"
	_, err = Resolve(t.Context(), absent, Options{})
	checkOneLine(t, absent, err, ErrNotFound)
	if !strings.Contains(err.Error(), "docker daemon not reachable") {
		t.Errorf("error %q does not say the daemon was not reachable", err)
	}

	_, err = Resolve(t.Context(), "docker:alpine:3.20", Options{})
	checkOneLine(t, "docker:alpine:3.20", err, errDaemonDown)
	if errors.Is(err, ErrNotFound) {
		t.Errorf("an unreachable daemon is not a missing image: %v", err)
	}
}

// TestRegistryCredentialsNeverShown pulls from a registry that rejects the keychain's
// credentials and echoes them back in its error body; neither the error nor the log may show them.
func TestRegistryCredentialsNeverShown(t *testing.T) {
	const user, secret, right = "alice", "s3cret-Pa55word-XYZ", "the-right-one"
	var sawSecret atomic.Bool
	host := testenv.Registry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if p == secret {
				sawSecret.Store(true)
			}
			if !ok || u != user || p != right {
				w.Header().Set("WWW-Authenticate", `Basic realm="plimsoll-test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprintf(w, `{"errors":[{"code":"UNAUTHORIZED","message":"rejected %s (password %s)"}]}`, r.Header.Get("Authorization"), p)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	src := testenv.AlpineImage(t, "3.20.3")
	ref := host + "/plimsoll/alpine:3.20.3"
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, src, remote.WithContext(t.Context()), remote.WithAuth(&authn.Basic{Username: user, Password: right})); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	opts := Options{
		Keychain: staticKeychain{authn.AuthConfig{Username: user, Password: secret}},
		Logger:   slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, in := range []string{"registry:" + ref, ref} {
		_, err := Resolve(t.Context(), in, opts)
		checkOneLine(t, in, err, nil)
		if !strings.Contains(err.Error(), "refused access") {
			t.Errorf("error %q does not say access was refused", err)
		}
		basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + secret))
		texts := []string{err.Error(), fmt.Sprintf("%+v", err), logs.String()}
		if u, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range u.Unwrap() {
				texts = append(texts, e.Error())
			}
		}
		for _, text := range texts {
			if strings.Contains(text, secret) || strings.Contains(text, basic) {
				t.Errorf("credentials shown: %s", text)
			}
		}
	}
	if !sawSecret.Load() {
		t.Fatal("the registry never received the keychain's password; the test proves nothing")
	}

	// With the right password the image resolves, and Walk fetches its layers with it.
	opts.Keychain = staticKeychain{authn.AuthConfig{Username: user, Password: right}}
	img, err := Resolve(t.Context(), "registry:"+ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := img.Facts(t.Context()); err != nil || f.OSVersionID != "3.20.3" {
		t.Fatalf("Facts = %+v, %v", f, err)
	}
}

// staticKeychain gives the same credentials for every registry.
type staticKeychain struct{ cfg authn.AuthConfig }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(k.cfg), nil
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := io.Copy(zw, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestResolveInsecure: loopback registries speak plain http by default; another host name only
// with Options.Insecure. The machine's own host name stands for the other host when it
// resolves to a loopback address.
func TestResolveInsecure(t *testing.T) {
	hermetic(t)
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	host := testenv.Registry(t, nil)
	push(t, host+"/plimsoll/alpine:3.20.3", testenv.AlpineImage(t, "3.20.3"))
	_, port, _ := net.SplitHostPort(host)

	if _, err := Resolve(t.Context(), "registry:localhost:"+port+"/plimsoll/alpine:3.20.3", Options{}); err != nil {
		t.Errorf("localhost: %v", err)
	}

	hostname, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	addrs, err := net.LookupHost(hostname)
	if err != nil || len(addrs) == 0 || !net.ParseIP(addrs[0]).IsLoopback() || strings.Contains(hostname, ".") {
		t.Skipf("host name %q does not resolve to a loopback address only (%v, %v)", hostname, addrs, err)
	}
	ref := "registry:" + net.JoinHostPort(hostname, port) + "/plimsoll/alpine:3.20.3"
	_, err = Resolve(t.Context(), ref, Options{})
	checkOneLine(t, ref, err, nil)
	img, err := Resolve(t.Context(), ref, Options{Insecure: true})
	if err != nil {
		t.Fatalf("with Insecure: %v", err)
	}
	if f, err := img.Facts(t.Context()); err != nil || f.OSVersionID != "3.20.3" {
		t.Fatalf("Facts = %+v, %v", f, err)
	}
}

// TestRegistryNotFoundInWords: a registry that answers as Docker Distribution does, with a
// detail object in its error, gets a line in words, not Go's map text ("map[Tag:9.9.9]").
func TestRegistryNotFoundInWords(t *testing.T) {
	hermetic(t)
	host := testenv.Registry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/manifests/9.9.9") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				_, _ = io.WriteString(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"9.9.9"}}]}`)
				return
			}
			if strings.HasSuffix(r.URL.Path, "/manifests/odd") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				_, _ = io.WriteString(w, `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"lib/alpine","tried":["a","b"]}},{"code":"UNKNOWN","message":"more","detail":"in a string"}]}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	for _, tc := range []struct{ ref, want string }{
		{"registry:" + host + "/lib/alpine:9.9.9", "registry:" + host + "/lib/alpine:9.9.9: image not found in registry " + host +
			": GET http://" + host + "/v2/lib/alpine/manifests/9.9.9: MANIFEST_UNKNOWN: manifest unknown (tag 9.9.9)"},
		{"registry:" + host + "/lib/alpine:odd", "registry:" + host + "/lib/alpine:odd: image not found in registry " + host +
			": GET http://" + host + "/v2/lib/alpine/manifests/odd: multiple errors returned: " +
			`NAME_UNKNOWN: repository name not known to registry (name lib/alpine, tried ["a","b"]); UNKNOWN: more (in a string)`},
	} {
		_, err := Resolve(t.Context(), tc.ref, Options{})
		checkOneLine(t, tc.ref, err, ErrNotFound)
		if err != nil && err.Error() != tc.want {
			t.Errorf("Resolve(%q):\n got %s\nwant %s", tc.ref, err, tc.want)
		}
	}
}
