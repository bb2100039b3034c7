// Package enginetest holds what the tests of packages that start containers share: a TestMain
// that fails the run when a container is left behind (testenv.Run), the real Docker engine as a runtime, and
// images built in memory wrapped as plimsoll images. It sits beside internal/testenv because
// that package is imported by the tests of internal/image and internal/runtime/docker
// themselves, so it cannot import them.
package enginetest

import (
	"context"
	"os"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/runtime/docker"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

// Main is a TestMain: testenv.Run, then exit with its code.
func Main(m *testing.M) { os.Exit(testenv.Run(m)) }

// Runtime returns the real Docker engine (skipping or failing the test as testenv.Docker
// does when there is none), closed when the test ends; containers get one second to stop.
func Runtime(t testing.TB) *docker.Runtime {
	t.Helper()
	testenv.Docker(t)
	rt, err := docker.New(context.Background(), docker.WithStopGrace(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

// Image wraps img, built in memory, as the image ref names.
func Image(t testing.TB, ref string, img v1.Image) *image.Image {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return &image.Image{Ref: ref, Digest: d, Img: img, Config: cf}
}
