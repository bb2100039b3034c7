package gitrepo

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// newRepo makes a repository with one commit holding svc/Dockerfile (and an executable script).
func newRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "svc"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "svc", "Dockerfile"), "FROM alpine:3.19.4\n")
	writeFile(t, filepath.Join(dir, "svc", "run.sh"), "#!/bin/sh\n")
	if err := os.Chmod(filepath.Join(dir, "svc", "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "init", "-q", "-b", "main")
	run(t, dir, "add", ".")
	run(t, dir, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-q", "-m", "first")
	return dir
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := git(context.Background(), dir, nil, nil, args...)
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return strings.TrimSpace(out)
}

// TestBranch makes a branch with one commit changing a file and finds the work tree, the index
// and the checked-out branch as they were; the same branch again is ErrBranchExists.
func TestBranch(t *testing.T) {
	dir := newRepo(t)
	ctx := context.Background()
	r, err := Open(ctx, filepath.Join(dir, "svc"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Clean(ctx); err != nil {
		t.Fatalf("Clean on a fresh repository: %v", err)
	}
	rel, err := r.Rel(filepath.Join(dir, "svc", "Dockerfile"))
	if err != nil || rel != "svc/Dockerfile" {
		t.Fatalf("Rel = %q, %v", rel, err)
	}
	head := run(t, dir, "rev-parse", "HEAD")
	commit, err := r.Branch(ctx, "plimsoll/patch/alpine-3.20.3", map[string][]byte{
		"svc/Dockerfile": []byte("FROM alpine:3.20.3\n"), "svc/run.sh": []byte("#!/bin/sh\nexec app\n"),
	}, "plimsoll: patch alpine 3.19.4 → 3.20.3\n\nVerdict: GO\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, dir, "rev-parse", "plimsoll/patch/alpine-3.20.3"); got != commit {
		t.Errorf("branch at %s, Branch returned %s", got, commit)
	}
	if got := run(t, dir, "rev-parse", commit+"^"); got != head {
		t.Errorf("parent %s, want HEAD %s", got, head)
	}
	if got := run(t, dir, "show", commit+":svc/Dockerfile"); got != "FROM alpine:3.20.3" {
		t.Errorf("Dockerfile on the branch: %q", got)
	}
	if got := run(t, dir, "ls-tree", commit, "svc/run.sh"); !strings.HasPrefix(got, "100755 ") {
		t.Errorf("run.sh lost its mode: %s", got)
	}
	if got := run(t, dir, "log", "-1", "--format=%s", commit); got != "plimsoll: patch alpine 3.19.4 → 3.20.3" {
		t.Errorf("subject %q", got)
	}
	// Nothing else moved.
	if got := run(t, dir, "rev-parse", "--abbrev-ref", "HEAD"); got != "main" {
		t.Errorf("checked out: %s", got)
	}
	if got := run(t, dir, "rev-parse", "HEAD"); got != head {
		t.Errorf("HEAD moved to %s", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "svc", "Dockerfile")); string(b) != "FROM alpine:3.19.4\n" {
		t.Errorf("work tree changed: %q", b)
	}
	if err := r.Clean(ctx); err != nil {
		t.Errorf("after Branch: %v", err)
	}
	if c, err := r.Commit(ctx, "plimsoll/patch/alpine-3.20.3"); c != commit || err != nil {
		t.Errorf("Commit = %q, %v; want %s", c, err, commit)
	}
	if c, err := r.Commit(ctx, "plimsoll/patch/none"); c != "" || err != nil {
		t.Errorf("Commit of no branch = %q, %v", c, err)
	}
	if _, err := r.Branch(ctx, "plimsoll/patch/alpine-3.20.3", map[string][]byte{"svc/Dockerfile": nil}, "again"); !errors.Is(err, ErrBranchExists) {
		t.Errorf("the same branch again: %v, want ErrBranchExists", err)
	}
	if _, err := r.Branch(ctx, "plimsoll/patch/other", map[string][]byte{"svc/new.txt": []byte("x")}, "x"); err == nil || !strings.Contains(err.Error(), "not committed") {
		t.Errorf("a file not at HEAD: %v", err)
	}
	if _, err := r.Branch(ctx, "bad..name", nil, "x"); err == nil {
		t.Error("a bad branch name was accepted")
	}
}

func TestRefusals(t *testing.T) {
	dir := newRepo(t)
	ctx := context.Background()
	r, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "untracked.txt"), "x")
	if err := r.Clean(ctx); err != nil {
		t.Errorf("an untracked file made the tree dirty: %v", err)
	}
	writeFile(t, filepath.Join(dir, "svc", "Dockerfile"), "FROM alpine:edge\n")
	if err := r.Clean(ctx); !errors.Is(err, ErrDirty) || !strings.Contains(err.Error(), "svc/Dockerfile") {
		t.Errorf("Clean with a changed file: %v, want ErrDirty naming it", err)
	}
	if _, err := Open(ctx, t.TempDir()); !errors.Is(err, ErrNotRepo) {
		t.Errorf("Open outside a repository: %v, want ErrNotRepo", err)
	}
	if _, err := r.Rel(t.TempDir()); err == nil {
		t.Error("Rel accepted a path outside the work tree")
	}
}
