package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/plimsoll/plimsoll/internal/testenv"
)

// TestPin pins a small repository's references against a loopback registry, then checks it.
func TestPin(t *testing.T) {
	host := testenv.Registry(t, nil)
	img := testenv.AlpineImage(t, "3.20.3")
	digest, _ := img.Digest()
	for _, tag := range []string{"base/alpine:3.20", "apps/web:1.4.2"} {
		ref, err := name.NewTag(host + "/" + tag)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	repo := t.TempDir()
	files := map[string]string{
		"Dockerfile": "ARG BASE=" + host + "/base/alpine:3.20\nFROM ${BASE} AS build\nRUN true\nFROM build\n",
		"deploy/web.yaml": "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n" +
			"        - name: web\n          image: " + host + "/apps/web:1.4.2 # the web tier\n",
	}
	for f, body := range files {
		p := filepath.Join(repo, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if r := plimsoll(t, "pin", "--check", repo); r.code != 1 || !strings.Contains(r.stderr, "2 found") {
		t.Fatalf("pin --check on a floating repo: exit %d, %s", r.code, r.stderr)
	}
	if r := plimsoll(t, "pin", repo); r.code != 0 || !strings.Contains(r.stdout, "2 references pinned") {
		t.Fatalf("pin: exit %d\n%s", r.code, r.stdout)
	}
	b, _ := os.ReadFile(filepath.Join(repo, "deploy/web.yaml"))
	if want := "image: " + host + "/apps/web:1.4.2@" + digest.String() + " # the web tier\n"; !strings.HasSuffix(string(b), want) {
		t.Errorf("web.yaml:\n%s\nwant it to end in %q", b, want)
	}
	b, _ = os.ReadFile(filepath.Join(repo, "Dockerfile"))
	if !strings.HasPrefix(string(b), "ARG BASE="+host+"/base/alpine:3.20@"+digest.String()+"\n") {
		t.Errorf("Dockerfile:\n%s", b)
	}
	if r := plimsoll(t, "pin", "--check", repo); r.code != 0 {
		t.Errorf("pin --check after pinning: exit %d\n%s", r.code, r.stdout)
	}
	if r := plimsoll(t, "pin", repo); r.code != 0 || !strings.Contains(r.stdout, "0 references pinned") {
		t.Errorf("pinning twice changed something: %s", r.stdout)
	}
	r := plimsoll(t, "inventory", "-o", "json", repo)
	if r.code != 0 || strings.Count(r.stdout, `"floats": false`) != 2 {
		t.Errorf("inventory after pinning:\n%s", r.stdout)
	}
}
