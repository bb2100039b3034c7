package inventory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

var update = flag.Bool("update", false, "rewrite golden files")

const fixture = "testdata/repo"

// found is the golden form of Find's answer, with paths relative to the root.
type found struct {
	Refs     []Ref     `json:"refs"`
	Warnings []Warning `json:"warnings"`
}

func relative(t *testing.T, root string, refs []Ref, warns []Warning) found {
	t.Helper()
	rel := func(p string) string {
		r, err := filepath.Rel(root, p)
		if err != nil {
			t.Fatal(err)
		}
		return filepath.ToSlash(r)
	}
	out := found{Refs: []Ref{}, Warnings: []Warning{}}
	for _, r := range refs {
		r.File = rel(r.File)
		out.Refs = append(out.Refs, r)
	}
	for _, w := range warns {
		w.File = rel(w.File)
		out.Warnings = append(out.Warnings, w)
	}
	return out
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, d)
	}
}

func TestFindGolden(t *testing.T) {
	refs, warns, err := Find(t.Context(), []string{fixture})
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(relative(t, fixture, refs, warns), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/golden/find.json", append(got, '\n'))

	kinds := map[Kind]int{}
	for _, r := range refs {
		kinds[r.Kind]++
		if strings.Contains(r.File, "vendor") || strings.Contains(r.File, "node_modules") || strings.Contains(r.File, "templates") {
			t.Errorf("%s should have been skipped", r.File)
		}
	}
	for _, k := range []Kind{KindDockerfile, KindK8s, KindHelm, KindCompose, KindGitHub, KindGitLab} {
		if kinds[k] == 0 {
			t.Errorf("no %s reference found", k)
		}
	}
}

func TestFindMissingRoot(t *testing.T) {
	if _, _, err := Find(t.Context(), []string{filepath.Join(t.TempDir(), "nope")}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestFindCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := Find(ctx, []string{fixture}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// fixtureImages are the images the fixture repo names; the loopback registry
// holds exactly these, so a reference Pin resolves wrongly fails the test.
var fixtureImages = []string{
	"alpine:3.19", "node:20-alpine", "golang:1.22", "gcr.io/distroless/static-debian12:nonroot",
	"ghcr.io/example/migrate:v1.4.0", "nginx:1.25.3", "docker.io/library/busybox:latest",
	"quay.io/example/report:2024.06", "busybox:latest", "docker.io/bitnami/nginx:1.25.3-debian-12-r0",
	"docker.io/bitnami/nginx-exporter:1.1.0", "ghcr.io/example/web:1.25.3", "redis:7.2", "busybox:1.36",
	"postgres:16", "redis:latest", "node:20", "alpine:3.20", "golangci/golangci-lint:v1.59",
	"ruby:3.3", "redis:7", "python:3.12", "docker:24-dind",
}

// loopbackResolver starts an in-process registry on 127.0.0.1 holding a
// small, deterministic image for every fixture image (stored under
// <registry>/<repository>) and returns a resolver that reads digests from it.
func loopbackResolver(t *testing.T) func(ctx context.Context, ref string) (string, error) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	local := func(ref string) (name.Reference, error) {
		r, err := name.ParseReference(ref)
		if err != nil {
			return nil, err
		}
		return name.ParseReference(u.Host + "/" + r.Context().RegistryStr() + "/" + r.Context().RepositoryStr() + ":" + r.Identifier())
	}
	for _, ref := range fixtureImages {
		img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
			Architecture: "amd64", OS: "linux",
			Config: v1.Config{Labels: map[string]string{"org.example.ref": ref}},
		})
		if err != nil {
			t.Fatal(err)
		}
		dst, err := local(ref)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(dst, img, remote.WithContext(t.Context())); err != nil {
			t.Fatal(err)
		}
	}
	return func(ctx context.Context, ref string) (string, error) {
		dst, err := local(ref)
		if err != nil {
			return "", err
		}
		desc, err := remote.Head(dst, remote.WithContext(ctx))
		if err != nil {
			return "", err
		}
		return desc.Digest.String(), nil
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func readTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPinGoldenAndIdempotent(t *testing.T) {
	resolve := loopbackResolver(t)
	dir := t.TempDir()
	copyTree(t, fixture, dir)
	before := readTree(t, dir)

	refs, _, err := Find(t.Context(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	edits, err := Pin(t.Context(), refs, resolve)
	// The only failures allowed are the references assembled from variables.
	for _, e := range unwrapJoined(err) {
		if !errors.Is(e, ErrUnpinnable) {
			t.Errorf("Pin: %v", e)
		}
	}
	if len(unwrapJoined(err)) != 2 {
		t.Errorf("Pin reported %d unpinnable references, want 2 (an ARG expansion, a compose default): %v", len(unwrapJoined(err)), err)
	}
	if err := Apply(edits); err != nil {
		t.Fatal(err)
	}
	after := readTree(t, dir)

	// Every changed file matches its golden copy; no other file changed.
	goldenDir := "testdata/golden/pin"
	if *update {
		if err := os.RemoveAll(goldenDir); err != nil {
			t.Fatal(err)
		}
	}
	changed := map[string]bool{}
	for rel, text := range after {
		if text != before[rel] {
			changed[rel] = true
			golden(t, filepath.Join(goldenDir, rel), []byte(text))
		}
	}
	want := readTree(t, goldenDir)
	for rel := range want {
		if !changed[rel] {
			t.Errorf("%s: golden says it is pinned, but Pin left it unchanged", rel)
		}
	}
	if len(changed) == 0 {
		t.Fatal("Pin changed nothing")
	}

	// Everything pinnable is now pinned: what still floats is exactly the
	// unpinnable references.
	refs2, _, err := Find(t.Context(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Check(refs2) {
		if r.site.mode != modeNone {
			t.Errorf("%s:%d %s still floats after Pin", r.File, r.Line, r.Raw)
		}
	}
	if got, want := len(refs2), len(refs); got != want {
		t.Errorf("Find after Pin: %d refs, want %d", got, want)
	}

	// Pinning again changes nothing.
	edits2, _ := Pin(t.Context(), refs2, resolve)
	if len(edits2) != 0 {
		t.Errorf("second Pin produced %d edits: %+v", len(edits2), edits2)
	}
	if err := Apply(edits2); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(after, readTree(t, dir)); d != "" {
		t.Errorf("second pin changed files:\n%s", d)
	}
}

func unwrapJoined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestCheck(t *testing.T) {
	refs := []Ref{
		{Raw: "a:1", Floats: true},
		{Raw: "b:1@sha256:x", Floats: false},
		{Raw: "c:dev", Floats: true, Local: true},
	}
	got := Check(refs)
	if len(got) != 1 || got[0].Raw != "a:1" {
		t.Fatalf("Check = %+v, want only a:1", got)
	}
}

func TestPinFailures(t *testing.T) {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	ok := site{mode: modeReplace, line: 1, col: 6, old: "x:1"}
	refs := []Ref{
		{File: "f", Line: 1, Raw: "x:1", Name: "x", Tag: "1", Floats: true, site: ok},
		{File: "g", Line: 2, Raw: "${A}/y", Name: "y", Floats: true},
		{File: "h", Line: 3, Raw: "gone:1", Name: "gone", Tag: "1", Floats: true, site: ok},
		{File: "i", Line: 4, Raw: "bad:1", Name: "bad", Tag: "1", Floats: true, site: ok},
	}
	errGone := errors.New("manifest unknown")
	edits, err := Pin(t.Context(), refs, func(_ context.Context, ref string) (string, error) {
		switch ref {
		case "gone:1":
			return "", errGone
		case "bad:1":
			return "md5:abc", nil
		}
		return d, nil
	})
	if !errors.Is(err, ErrUnpinnable) || !errors.Is(err, errGone) || !strings.Contains(err.Error(), "md5:abc") {
		t.Errorf("err = %v, want unpinnable, resolver error and bad digest", err)
	}
	want := []Edit{{File: "f", Line: 1, Col: 6, Old: "x:1", New: "x:1@" + d}}
	if diff := cmp.Diff(want, edits); diff != "" {
		t.Errorf("edits (-want +got):\n%s", diff)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if edits, err := Pin(ctx, refs[:1], func(ctx context.Context, _ string) (string, error) { return "", ctx.Err() }); !errors.Is(err, context.Canceled) || edits != nil {
		t.Errorf("cancelled Pin = %v, %v", edits, err)
	}
}

func TestApplyEdits(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		edits []Edit
		want  string
		stale bool
	}{
		{"replace keeps rest of line", "FROM a:1 AS b # x\r\nRUN y\n",
			[]Edit{{Line: 1, Col: 6, Old: "a:1", New: "a:1@sha256:0"}}, "FROM a:1@sha256:0 AS b # x\r\nRUN y\n", false},
		{"insert before line", "a:\n  tag: 1\nb: 2\n",
			[]Edit{{Line: 3, Col: 1, New: "  digest: d\n"}}, "a:\n  tag: 1\n  digest: d\nb: 2\n", false},
		{"insert at end without final newline", "a:\n  tag: 1",
			[]Edit{{Line: 3, Col: 1, New: "  digest: d\n"}}, "a:\n  tag: 1\n  digest: d\n", false},
		{"two edits on one line", "x: [a:1, b:2]\n",
			[]Edit{{Line: 1, Col: 5, Old: "a:1", New: "A"}, {Line: 1, Col: 10, Old: "b:2", New: "B"}}, "x: [A, B]\n", false},
		{"stale text", "FROM a:2\n", []Edit{{Line: 1, Col: 6, Old: "a:1", New: "z"}}, "", true},
		{"stale line", "FROM a:1\n", []Edit{{Line: 7, Col: 6, Old: "a:1", New: "z"}}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := applyEdits([]byte(tt.in), tt.edits)
			if tt.stale {
				if !errors.Is(err, ErrStale) {
					t.Fatalf("err = %v, want ErrStale", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestApplyStaleLeavesFileAlone(t *testing.T) {
	p := filepath.Join(t.TempDir(), "Dockerfile")
	orig := []byte("FROM a:2\nFROM b:1\n")
	if err := os.WriteFile(p, orig, 0o640); err != nil {
		t.Fatal(err)
	}
	err := Apply([]Edit{
		{File: p, Line: 2, Col: 6, Old: "b:1", New: "b:1@sha256:0"},
		{File: p, Line: 1, Col: 6, Old: "a:1", New: "a:1@sha256:0"},
	})
	if !errors.Is(err, ErrStale) {
		t.Fatalf("err = %v, want ErrStale", err)
	}
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, orig) {
		t.Errorf("file changed to %q", got)
	}
}

func TestApplyKeepsMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "Dockerfile")
	if err := os.WriteFile(p, []byte("FROM a:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Apply([]Edit{{File: p, Line: 1, Col: 6, Old: "a:1", New: "a:1@sha256:0"}}); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", info.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestParseRef(t *testing.T) {
	const d = "sha256:c3839dd800b9eb7603340509769c43e146a74c63dca3045a8e7dc8ee07e53966"
	tests := []struct {
		in      string
		want    parsed
		wantErr bool
	}{
		{"nginx", parsed{name: "nginx"}, false},
		{"nginx:1.25", parsed{name: "nginx", tag: "1.25"}, false},
		{"localhost:5000/team/app:v2", parsed{name: "localhost:5000/team/app", tag: "v2"}, false},
		{"localhost:5000/team/app", parsed{name: "localhost:5000/team/app"}, false},
		{"busybox:1.36@" + d, parsed{name: "busybox", tag: "1.36", digest: d}, false},
		{"busybox@" + d, parsed{name: "busybox", digest: d}, false},
		{"", parsed{}, true},
		{"Upper/case", parsed{}, true},
		{"busybox@sha256:short", parsed{}, true},
	}
	for _, tt := range tests {
		got, err := parseRef(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseRef(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("parseRef(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		path string
		kind Kind
		ok   bool
	}{
		{"Dockerfile", KindDockerfile, true},
		{"svc/Dockerfile.prod", KindDockerfile, true},
		{"svc/api.dockerfile", KindDockerfile, true},
		{"Containerfile", KindDockerfile, true},
		{"k8s/deploy.yaml", KindK8s, true},
		{"chart/values.yaml", KindHelm, true},
		{"chart/values-prod.yml", KindHelm, true},
		{"chart/Chart.yaml", "", false},
		{"docker-compose.override.yml", KindCompose, true},
		{"compose.yaml", KindCompose, true},
		{".github/workflows/ci.yaml", KindGitHub, true},
		{".github/dependabot.yml", KindK8s, true},
		{".gitlab-ci.yml", KindGitLab, true},
		{"ci/test.gitlab-ci.yml", KindGitLab, true},
		{"README.md", "", false},
	}
	for _, tt := range tests {
		kind, ok := classify(tt.path)
		if kind != tt.kind || ok != tt.ok {
			t.Errorf("classify(%q) = %q, %v; want %q, %v", tt.path, kind, ok, tt.kind, tt.ok)
		}
	}
}
