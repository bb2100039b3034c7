package docker

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// ErrBuild means the engine ran the build and the Dockerfile did not build (a step failed, a
// base it names is missing): the image is wrong, not the engine.
var ErrBuild = errors.New("image did not build")

// BuildSpec is one image build.
type BuildSpec struct {
	// Context is the directory sent as the build context (.git is left out).
	Context string
	// Dockerfile is the Dockerfile's path inside Context, and Text what it is built as: Text
	// replaces the file's content in the context sent; the file on disk is not touched.
	Dockerfile string
	Text       []byte
	// Tags name the image built ("repo:tag").
	Tags []string
	// Labels are added to the image's config.
	Labels map[string]string
	// BuildArgs are the Dockerfile's ARG values (--build-arg).
	BuildArgs map[string]string
}

// Build builds spec with the engine's classic builder, which uses the images the engine holds
// and pulls only a base it does not have, and returns the image ID. A build that the engine ran
// and that failed is ErrBuild with the engine's message.
func (r *Runtime) Build(ctx context.Context, spec BuildSpec) (string, error) {
	df, err := filepath.Rel(spec.Context, filepath.Join(spec.Context, spec.Dockerfile))
	if err != nil || strings.HasPrefix(df, "..") {
		return "", fmt.Errorf("build: Dockerfile %s is outside its context %s", spec.Dockerfile, spec.Context)
	}
	df = filepath.ToSlash(df)
	args := map[string]*string{}
	for k, v := range spec.BuildArgs {
		args[k] = &v
	}
	pr, pw := io.Pipe()
	go func() { _ = pw.CloseWithError(writeContext(pw, spec.Context, df, spec.Text)) }()
	res, err := r.cli.ImageBuild(ctx, pr, client.ImageBuildOptions{
		Dockerfile: df, Tags: spec.Tags, Labels: spec.Labels, BuildArgs: args,
		Remove: true, ForceRemove: true, Version: build.BuilderV1,
	})
	if err != nil {
		_ = pr.CloseWithError(err)
		return "", fmt.Errorf("build %s: %w", spec.Dockerfile, r.engineErr(err))
	}
	defer res.Body.Close()
	id, err := buildResult(res.Body)
	_ = pr.CloseWithError(errors.New("build finished")) // ends the writer if the engine stopped reading
	if err != nil {
		return "", fmt.Errorf("build %s: %w", spec.Dockerfile, err)
	}
	if id == "" && len(spec.Tags) > 0 {
		insp, err := r.cli.ImageInspect(ctx, spec.Tags[0])
		if err != nil {
			return "", fmt.Errorf("build %s: built, but: %w", spec.Dockerfile, r.engineErr(err))
		}
		id = insp.ID
	}
	r.log.Debug("image built", "dockerfile", spec.Dockerfile, "id", id, "tags", spec.Tags)
	return id, nil
}

// buildResult reads the engine's build stream and returns the ID of the image built.
func buildResult(body io.Reader) (string, error) {
	dec := json.NewDecoder(body)
	var id string
	var tail []string // the last lines of output, for the error
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err == io.EOF {
			return id, nil
		} else if err != nil {
			return "", fmt.Errorf("read build output: %w", err)
		}
		if m.Error != nil {
			msg := strings.TrimSpace(m.Error.Message)
			if len(tail) > 0 {
				msg += " (last output: " + strings.Join(tail, " | ") + ")"
			}
			return "", fmt.Errorf("%w: %s", ErrBuild, msg)
		}
		if s := strings.TrimSpace(m.Stream); s != "" {
			tail = append(tail, s)
			if len(tail) > 3 {
				tail = tail[1:]
			}
		}
		if m.Aux != nil {
			var aux struct{ ID string }
			if json.Unmarshal(*m.Aux, &aux) == nil && aux.ID != "" {
				id = aux.ID
			}
		}
	}
}

// writeContext writes dir as a tar stream to w, .git left out, with the file at dockerfile
// (slash-separated, relative to dir) replaced by text.
func writeContext(w io.Writer, dir, dockerfile string, text []byte) error {
	tw := tar.NewWriter(w)
	wrote := false
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = rel, 0, 0, "", ""
		if d.IsDir() {
			hdr.Name += "/"
		}
		if rel == dockerfile && info.Mode().IsRegular() {
			hdr.Size, wrote = int64(len(text)), true
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			_, err = tw.Write(text)
			return err
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return fmt.Errorf("build context %s: %w", dir, err)
	}
	if !wrote {
		hdr := &tar.Header{Name: path.Clean(dockerfile), Mode: 0o644, Size: int64(len(text)), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(text); err != nil {
			return err
		}
	}
	return tw.Close()
}
