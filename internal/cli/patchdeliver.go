package cli

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/plimsoll/plimsoll/internal/gitrepo"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/inventory"
	"github.com/plimsoll/plimsoll/internal/patches"
	"github.com/plimsoll/plimsoll/internal/runtime/docker"
)

// engineBuilder builds services in the Docker engine for `patches --apply`. The engine is
// reached on the first build, so a run that rebuilds nothing never needs one.
type engineBuilder struct {
	images image.Options
	args   map[string]string
	log    *slog.Logger

	once sync.Once
	rt   *docker.Runtime
	err  error
}

func (b *engineBuilder) engine(ctx context.Context) (*docker.Runtime, error) {
	b.once.Do(func() { b.rt, b.err = docker.New(ctx, docker.WithLogger(b.log)) })
	return b.rt, b.err
}

// Base loads the base image from its registry into the engine, unless the engine holds it, and
// returns its image ID, which a FROM line can name.
func (b *engineBuilder) Base(ctx context.Context, ref string) (string, error) {
	rt, err := b.engine(ctx)
	if err != nil {
		return "", err
	}
	img, err := image.Resolve(ctx, string(image.Registry)+":"+ref, b.images)
	if err != nil {
		return "", err
	}
	defer img.Close()
	return rt.Ensure(ctx, img.Img, "")
}

// Build builds one service image with the run's build arguments.
func (b *engineBuilder) Build(ctx context.Context, bd patches.Build) (string, error) {
	rt, err := b.engine(ctx)
	if err != nil {
		return "", err
	}
	_, err = rt.Build(ctx, docker.BuildSpec{Context: bd.Context, Dockerfile: bd.Dockerfile, Text: bd.Text,
		Tags: []string{bd.Tag}, Labels: bd.Labels, BuildArgs: b.args})
	if err != nil {
		return "", err
	}
	return string(image.Daemon) + ":" + bd.Tag, nil
}

// gitProposer proposes each change as a branch of the repository that holds its files.
type gitProposer struct {
	repos []*gitrepo.Repo
}

// openRepos opens the repositories holding paths and refuses a dirty one: a branch made from
// HEAD must rewrite what the inventory read.
func openRepos(ctx context.Context, paths []string) (*gitProposer, error) {
	p := &gitProposer{}
	for _, path := range paths {
		r, err := gitrepo.Open(ctx, path)
		if err != nil {
			return nil, err
		}
		if err := r.Clean(ctx); err != nil {
			return nil, err
		}
		p.repos = append(p.repos, r)
	}
	return p, nil
}

// Propose commits ch on its branch, in the repository holding its files.
func (p *gitProposer) Propose(ctx context.Context, ch patches.Change) (string, error) {
	byFile := map[string][]inventory.Edit{}
	var files []string
	for _, e := range ch.Edits {
		if _, ok := byFile[e.File]; !ok {
			files = append(files, e.File)
		}
		byFile[e.File] = append(byFile[e.File], e)
	}
	var repo *gitrepo.Repo
	content := map[string][]byte{}
	for _, f := range files {
		r, rel, err := p.repoOf(f)
		if err != nil {
			return "", err
		}
		if repo != nil && r != repo {
			return "", fmt.Errorf("branch %s: its files are in two repositories (%s, %s)", ch.Branch, repo.Root, r.Root)
		}
		repo = r
		old, err := r.Read(ctx, rel)
		if err != nil {
			return "", err
		}
		if content[rel], err = inventory.Rewrite(old, byFile[f]); err != nil {
			return "", fmt.Errorf("branch %s: %s: %w", ch.Branch, rel, err)
		}
	}
	if repo == nil {
		return "", fmt.Errorf("branch %s: nothing to change", ch.Branch)
	}
	return repo.Branch(ctx, ch.Branch, content, ch.Message)
}

// Proposed returns the commit of branch in the first repository that has it, "" for none.
func (p *gitProposer) Proposed(ctx context.Context, branch string) (string, error) {
	for _, r := range p.repos {
		if c, err := r.Commit(ctx, branch); err != nil || c != "" {
			return c, err
		}
	}
	return "", nil
}

func (p *gitProposer) repoOf(file string) (*gitrepo.Repo, string, error) {
	for _, r := range p.repos {
		if rel, err := r.Rel(file); err == nil {
			return r, rel, nil
		}
	}
	return nil, "", fmt.Errorf("%s is in none of the repositories searched", file)
}
