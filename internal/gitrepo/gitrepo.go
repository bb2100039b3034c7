// Package gitrepo proposes file changes as Git branches through the git command line: a branch
// with one commit on top of HEAD, made in a temporary index, so the work tree, the index and
// the branch checked out are left as they were. It needs git on $PATH and talks to no remote.
package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Errors callers branch on.
var (
	// ErrNotRepo: the directory is not inside a Git work tree (or git is not installed).
	ErrNotRepo = errors.New("not in a Git work tree")
	// ErrDirty: tracked files have uncommitted changes.
	ErrDirty = errors.New("the work tree has uncommitted changes")
	// ErrBranchExists: the branch to create is already there.
	ErrBranchExists = errors.New("branch already exists")
)

// Repo is one Git work tree.
type Repo struct {
	// Root is the work tree's top directory.
	Root string
}

// Open returns the repository whose work tree holds dir.
func Open(ctx context.Context, dir string) (*Repo, error) {
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		dir = filepath.Dir(dir)
	}
	out, err := git(ctx, dir, nil, nil, "rev-parse", "--show-toplevel")
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("git: %w", ctx.Err())
		}
		return nil, fmt.Errorf("%s: %w", dir, ErrNotRepo)
	}
	root := strings.TrimSpace(out)
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	if _, err := git(ctx, root, nil, nil, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"); err != nil {
		return nil, fmt.Errorf("%s: %w: it has no commit yet", root, ErrNotRepo)
	}
	return &Repo{Root: root}, nil
}

// Clean returns ErrDirty, naming up to three files, when tracked files differ from HEAD in
// the work tree or the index. Untracked files do not count: a branch from HEAD leaves them be.
func (r *Repo) Clean(ctx context.Context) error {
	out, err := git(ctx, r.Root, nil, nil, "status", "--porcelain", "--untracked-files=no")
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || lines[0] == "" {
		return nil
	}
	var files []string
	for _, l := range lines[:min(3, len(lines))] {
		if len(l) > 3 {
			files = append(files, l[3:])
		}
	}
	more := ""
	if len(lines) > 3 {
		more = fmt.Sprintf(" and %d more", len(lines)-3)
	}
	return fmt.Errorf("%s: %w (%s%s)", r.Root, ErrDirty, strings.Join(files, ", "), more)
}

// Rel returns path (absolute, or relative to the working directory) relative to the work tree,
// slash-separated; a path outside it is an error.
func (r *Repo) Rel(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if d, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(d, filepath.Base(abs))
	}
	rel, err := filepath.Rel(r.Root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is outside the work tree %s", path, r.Root)
	}
	return filepath.ToSlash(rel), nil
}

// Read returns the content of file (relative to the work tree) at HEAD.
func (r *Repo) Read(ctx context.Context, file string) ([]byte, error) {
	out, err := git(ctx, r.Root, nil, nil, "cat-file", "blob", "HEAD:"+file)
	if err != nil {
		return nil, fmt.Errorf("read %s at HEAD: %w", file, err)
	}
	return []byte(out), nil
}

// Branch creates branch on top of HEAD with one commit that sets files (paths relative to the
// work tree → content; each must exist at HEAD, and keeps its mode) and says message. It
// returns the commit. The work tree, the index and the branch checked out are untouched; a
// branch that exists is ErrBranchExists and is left as it was. Without a configured identity
// the commit is made as "plimsoll <plimsoll@localhost>".
func (r *Repo) Branch(ctx context.Context, branch string, files map[string][]byte, message string) (string, error) {
	if _, err := git(ctx, r.Root, nil, nil, "check-ref-format", "--branch", branch); err != nil {
		return "", fmt.Errorf("branch name %q: %w", branch, err)
	}
	if _, err := git(ctx, r.Root, nil, nil, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch); err == nil {
		return "", fmt.Errorf("%s: %w", branch, ErrBranchExists)
	}
	tmp, err := os.MkdirTemp("", "plimsoll-git-")
	if err != nil {
		return "", fmt.Errorf("branch %s: %w", branch, err)
	}
	defer os.RemoveAll(tmp)
	env := append(r.identity(ctx), "GIT_INDEX_FILE="+filepath.Join(tmp, "index"))
	if _, err := git(ctx, r.Root, env, nil, "read-tree", "HEAD"); err != nil {
		return "", fmt.Errorf("branch %s: %w", branch, err)
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		ls, err := git(ctx, r.Root, env, nil, "ls-tree", "HEAD", "--", p)
		mode, _, _ := strings.Cut(ls, " ")
		if err != nil || mode == "" {
			return "", fmt.Errorf("branch %s: %s is not committed at HEAD", branch, p)
		}
		sha, err := git(ctx, r.Root, env, files[p], "hash-object", "-w", "--stdin")
		if err != nil {
			return "", fmt.Errorf("branch %s: %w", branch, err)
		}
		if _, err := git(ctx, r.Root, env, nil, "update-index", "--cacheinfo", mode+","+strings.TrimSpace(sha)+","+p); err != nil {
			return "", fmt.Errorf("branch %s: %w", branch, err)
		}
	}
	tree, err := git(ctx, r.Root, env, nil, "write-tree")
	if err != nil {
		return "", fmt.Errorf("branch %s: %w", branch, err)
	}
	commit, err := git(ctx, r.Root, env, []byte(message), "commit-tree", strings.TrimSpace(tree), "-p", "HEAD", "-F", "-")
	if err != nil {
		return "", fmt.Errorf("branch %s: %w", branch, err)
	}
	commit = strings.TrimSpace(commit)
	// The empty old value makes the update fail if the branch appeared meanwhile.
	if _, err := git(ctx, r.Root, env, nil, "update-ref", "-m", "plimsoll patches", "refs/heads/"+branch, commit, ""); err != nil {
		return "", fmt.Errorf("branch %s: %w", branch, err)
	}
	return commit, nil
}

// Commit returns the commit branch points at, "" when there is no such branch.
func (r *Repo) Commit(ctx context.Context, branch string) (string, error) {
	out, err := git(ctx, r.Root, nil, nil, "for-each-ref", "--format=%(objectname)", "refs/heads/"+branch)
	if err != nil {
		return "", fmt.Errorf("branch %s: %w", branch, err)
	}
	return strings.TrimSpace(out), nil
}

// identity returns the environment that names the commit's author and committer when the
// repository has no identity configured.
func (r *Repo) identity(ctx context.Context) []string {
	if out, err := git(ctx, r.Root, nil, nil, "config", "user.email"); err == nil && strings.TrimSpace(out) != "" {
		return nil
	}
	var env []string
	for k, v := range map[string]string{"GIT_AUTHOR_NAME": "plimsoll", "GIT_AUTHOR_EMAIL": "plimsoll@localhost",
		"GIT_COMMITTER_NAME": "plimsoll", "GIT_COMMITTER_EMAIL": "plimsoll@localhost"} {
		if os.Getenv(k) == "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// git runs git in dir with env added and stdin, and returns its standard output; a failure
// carries git's first line of error output.
func git(ctx context.Context, dir string, env []string, stdin []byte, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
	cmd.Env = append(cmd.Env, env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("git %s: %s", args[0], msg)
	}
	return stdout.String(), nil
}
