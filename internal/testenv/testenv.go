// Package testenv gives tests the real things they run against (a Docker engine, the Alpine
// root filesystems of ../shared/testdata) and images built from them. Where a real dependency is
// missing, a test fails under CI (CI=true or PLIMSOLL_REQUIRE_DOCKER=1) and is skipped elsewhere,
// with the reason, so a CI run can never pass by skipping.
package testenv

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"
)

// Required reports whether missing real dependencies must fail tests rather than skip them.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("PLIMSOLL_REQUIRE_DOCKER") == "1"
}

// missing fails or skips t for a dependency that is not there.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// Docker returns a client for the Docker engine ($DOCKER_HOST or the default socket).
func Docker(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.New(client.FromEnv)
	if err != nil {
		missing(t, "docker client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Ping(ctx, client.PingOptions{}); err != nil {
		missing(t, "no Docker engine answers (start one with `make setup`): %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// SharedDir returns ../shared/testdata/<rel> seen from the repository root.
func SharedDir(t testing.TB, rel string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	p := filepath.Join(root, "..", "shared", "testdata", rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("shared test data %s: %v", rel, err)
	}
	return p
}

// AlpineRootfs returns the path of the Alpine minirootfs tarball of version ("3.19.4", "3.20.3").
func AlpineRootfs(t testing.TB, version string) string {
	t.Helper()
	return SharedDir(t, filepath.Join("alpine", "alpine-minirootfs-"+version+"-x86_64.tar.gz"))
}

// AlpineImage builds a one-layer image from the Alpine minirootfs of version, with a config like
// the official image's (linux/amd64, /bin/sh).
func AlpineImage(t testing.TB, version string) v1.Image {
	t.Helper()
	layer, err := tarball.LayerFromFile(AlpineRootfs(t, version))
	if err != nil {
		t.Fatalf("alpine %s layer: %v", version, err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatalf("alpine %s image: %v", version, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Cmd = []string{"/bin/sh"}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// LoadIntoDaemon writes img into the Docker engine as tag and removes it when the test ends.
func LoadIntoDaemon(t testing.TB, img v1.Image, tag string) {
	t.Helper()
	c := Docker(t)
	ref, err := name.NewTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := daemon.Write(ref, img); err != nil {
		t.Fatalf("load %s into docker: %v", tag, err)
	}
	t.Cleanup(func() {
		_, _ = c.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
}
