package docker

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/plimsoll/plimsoll/internal/runtime"
)

// MaxCopyFile is the largest file CopyFile reads; a larger one is an error, never a cut file.
const MaxCopyFile = 256 << 20

// CopyFile returns the content of the regular file at path (absolute, inside the container):
// an optional capability beyond runtime.Instance, found by type assertion, for reading what a
// process wrote (a test report) without a shell in the image. It works on an exited container
// until Stop. A path that does not exist is an error wrapping fs.ErrNotExist; a directory or
// a file larger than MaxCopyFile is an error.
func (in *instance) CopyFile(ctx context.Context, path string) ([]byte, error) {
	if in.gone() {
		return nil, fmt.Errorf("copy %s from %s: %w", path, in.name, runtime.ErrRemoved)
	}
	res, err := in.r.cli.CopyFromContainer(ctx, in.id, client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			// The engine says "not found" for the path and for the container alike.
			if _, ierr := in.inspect(ctx, "copy from"); ierr != nil {
				return nil, ierr
			}
			return nil, fmt.Errorf("copy %s from %s: %w", path, in.name, fs.ErrNotExist)
		}
		return nil, in.fail("copy "+path+" from", err)
	}
	defer res.Content.Close()
	if !res.Stat.Mode.IsRegular() {
		return nil, fmt.Errorf("copy %s from %s: not a regular file (%s)", path, in.name, res.Stat.Mode)
	}
	tr := tar.NewReader(res.Content)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("copy %s from %s: the engine sent no file", path, in.name)
		}
		if err != nil {
			return nil, fmt.Errorf("copy %s from %s: read archive: %w", path, in.name, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Size > MaxCopyFile {
			return nil, fmt.Errorf("copy %s from %s: %d bytes, more than %d", path, in.name, h.Size, MaxCopyFile)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("copy %s from %s: read archive: %w", path, in.name, err)
		}
		return b, nil
	}
}
