package docker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"
)

// TestBuild builds FROM scratch with the Dockerfile's text replaced (the file on disk names a
// base that exists nowhere), labels and a build arg; then a Dockerfile that cannot build is
// ErrBuild with the engine's message.
func TestBuild(t *testing.T) {
	rt := newTestRuntime(t)
	ctx := context.Background()
	dir := t.TempDir()
	for p, s := range map[string]string{
		"svc/Dockerfile": "FROM plimsoll-nowhere/base:none\n",
		"svc/hello.txt":  "hello\n",
		"svc/.git/HEAD":  "ref: refs/heads/main\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tag := "plimsoll-test/build:" + randomHex(4)
	t.Cleanup(func() {
		_, _ = rt.cli.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true})
	})
	id, err := rt.Build(ctx, BuildSpec{
		Context: filepath.Join(dir, "svc"), Dockerfile: "Dockerfile",
		Text:      []byte("FROM scratch\nARG WHO\nLABEL who=$WHO\nCOPY hello.txt /hello.txt\n"),
		Tags:      []string{tag},
		Labels:    map[string]string{"org.opencontainers.image.base.name": "scratch"},
		BuildArgs: map[string]string{"WHO": "plimsoll"},
	})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	insp, err := rt.cli.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	if insp.ID != id {
		t.Errorf("Build returned %s, the tag names %s", id, insp.ID)
	}
	if l := insp.Config.Labels; l["org.opencontainers.image.base.name"] != "scratch" || l["who"] != "plimsoll" {
		t.Errorf("labels %v, want the build's label and the build arg's", l)
	}

	_, err = rt.Build(ctx, BuildSpec{Context: filepath.Join(dir, "svc"), Dockerfile: "Dockerfile",
		Text: []byte("FROM scratch\nCOPY missing.txt /x\n"), Tags: []string{tag + "-bad"}})
	if !errors.Is(err, ErrBuild) || !strings.Contains(err.Error(), "missing.txt") {
		t.Errorf("Build of a Dockerfile that cannot build: %v, want ErrBuild naming missing.txt", err)
	}
}
