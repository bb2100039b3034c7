package cst

import (
	"archive/tar"
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
)

// fsImage is a two-layer image with links of every kind, implicit directories, a whiteout and
// an overwritten file.
func fsImage(t testing.TB) tree {
	t.Helper()
	l1 := layer(t,
		dir("etc/", 0o755),
		reg("etc/passwd", "old\n"),
		file{name: "etc/shadow", mode: 0o640, gid: 42, body: "secret\n"},
		reg("usr/lib/os-release", "PRETTY_NAME=\"Test\"\n"),
		symlink("etc/os-release", "../usr/lib/os-release"),
		dir("usr/bin/", 0o755),
		file{name: "usr/bin/app", mode: 0o4755, uid: 1000, gid: 1000, body: "#!app\n"},
		hardlink("usr/bin/app2", "usr/bin/app"),
		symlink("bin", "usr/bin"),
		dir("tmp/", 0o1777),
		symlink("loop1", "loop2"),
		symlink("loop2", "/loop1"),
		symlink("dangling", "/nowhere"),
		reg("etc/gone", "x"),
		reg("opt/data/file", "data"),
		symlink("etc/abs", "/etc/passwd"),
	)
	l2 := layer(t,
		whiteout("etc", "gone"),
		reg("etc/passwd", "new\n"),
	)
	tr, err := readTree(context.Background(), wrap(t, build(t, nil, nil, l1, l2), "fs-image"))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestLookup(t *testing.T) {
	tr := fsImage(t)
	tests := []struct {
		path     string
		follow   bool
		resolved string
		mode     string
		uid, gid int
		err      string // part of the error, "" for none
	}{
		{path: "/", resolved: "/", mode: "drwxr-xr-x"},
		{path: "", resolved: "/", mode: "drwxr-xr-x"},
		{path: "/etc", resolved: "/etc", mode: "drwxr-xr-x"},
		{path: "/etc/passwd", resolved: "/etc/passwd", mode: "-rw-r--r--"},
		{path: "/etc/shadow", resolved: "/etc/shadow", mode: "-rw-r-----", gid: 42},
		{path: "/etc/os-release", resolved: "/etc/os-release", mode: "Lrwxrwxrwx"},
		{path: "/etc/os-release", follow: true, resolved: "/usr/lib/os-release", mode: "-rw-r--r--"},
		{path: "/etc/abs", follow: true, resolved: "/etc/passwd", mode: "-rw-r--r--"},
		{path: "/bin", resolved: "/bin", mode: "Lrwxrwxrwx"},
		{path: "/bin/", resolved: "/bin", mode: "Lrwxrwxrwx"},
		{path: "/bin", follow: true, resolved: "/usr/bin", mode: "drwxr-xr-x"},
		{path: "/bin/app", resolved: "/usr/bin/app", mode: "urwxr-xr-x", uid: 1000, gid: 1000},
		{path: "/bin/app2", resolved: "/usr/bin/app", mode: "urwxr-xr-x", uid: 1000, gid: 1000},
		{path: "/tmp", resolved: "/tmp", mode: "dtrwxrwxrwx"},
		{path: "/usr/lib", resolved: "/usr/lib", mode: "drwxr-xr-x"}, // implicit
		{path: "/opt/data", resolved: "/opt/data", mode: "drwxr-xr-x"},
		{path: "/usr/../etc/./passwd", resolved: "/etc/passwd", mode: "-rw-r--r--"},
		{path: "/../../etc/passwd", resolved: "/etc/passwd", mode: "-rw-r--r--"},
		{path: "/loop1", resolved: "/loop1", mode: "Lrwxrwxrwx"},
		{path: "/dangling", resolved: "/dangling", mode: "Lrwxrwxrwx"},
		{path: "/etc/gone", err: "/etc/gone: file does not exist"},
		{path: "/etc/gone", follow: true, err: "does not exist"},
		{path: "/loop1", follow: true, err: "too many levels of symbolic links"},
		{path: "/loop1/x", err: "too many levels of symbolic links"},
		{path: "/dangling", follow: true, err: "/nowhere: file does not exist"},
		{path: "/etc/passwd/x", err: "/etc/passwd: not a directory"},
		// ".." is taken in the directory a link leads to, as the kernel does: /bin is /usr/bin.
		{path: "/bin/../etc/passwd", err: "/usr/etc: file does not exist"},
	}
	for _, tt := range tests {
		p, e, err := tr.lookup(tt.path, tt.follow)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("lookup(%q, %v) = %q, %v; want error %q", tt.path, tt.follow, p, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("lookup(%q, %v): %v", tt.path, tt.follow, err)
			continue
		}
		if p != tt.resolved || e.mode.String() != tt.mode || e.uid != tt.uid || e.gid != tt.gid {
			t.Errorf("lookup(%q, %v) = %q %s %d:%d, want %q %s %d:%d", tt.path, tt.follow, p, e.mode, e.uid, e.gid,
				tt.resolved, tt.mode, tt.uid, tt.gid)
		}
	}
	if _, _, err := tr.lookup("/etc/gone", false); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file error %v is not fs.ErrNotExist", err)
	}
}

func TestHasShell(t *testing.T) {
	tests := []struct {
		name  string
		files []file
		want  bool
	}{
		{"none", []file{reg("etc/passwd", "")}, false},
		{"busybox link", []file{exe("bin/busybox", []byte("x")), symlink("bin/sh", "busybox")}, true},
		{"usrmerge", []file{symlink("bin", "usr/bin"), exe("usr/bin/dash", []byte("x")), symlink("usr/bin/sh", "dash")}, true},
		{"not executable", []file{reg("bin/sh", "x")}, false},
		{"dangling", []file{symlink("bin/sh", "/bin/bash")}, false},
		{"directory", []file{dir("bin/sh/", 0o755)}, false},
	}
	for _, tt := range tests {
		tr, err := readTree(context.Background(), wrap(t, build(t, nil, nil, layer(t, tt.files...)), tt.name))
		if err != nil {
			t.Fatal(err)
		}
		if got := tr.hasShell(); got != tt.want {
			t.Errorf("%s: hasShell = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestExistence(t *testing.T) {
	tr := fsImage(t)
	id := func(n int) *int { return &n }
	env := map[string]string{"APP_DIR": "/usr/bin"}
	tests := []struct {
		name string
		ft   FileExistenceTest
		want string // "" = pass, else part of the message
	}{
		{"exists", FileExistenceTest{Path: "/etc/passwd", ShouldExist: true}, ""},
		{"missing", FileExistenceTest{Path: "/etc/gone", ShouldExist: true}, "/etc/gone should exist but does not"},
		{"absent as wanted", FileExistenceTest{Path: "/etc/gone"}, ""},
		{"present but unwanted", FileExistenceTest{Path: "/bin/app"}, "/bin/app should not exist but does (urwxr-xr-x)"},
		{"dangling link exists", FileExistenceTest{Path: "/dangling", ShouldExist: true, Permissions: "Lrwxrwxrwx"}, ""},
		{"permissions", FileExistenceTest{Path: "/etc/shadow", ShouldExist: true, Permissions: "-rw-r-----"}, ""},
		{"wrong permissions", FileExistenceTest{Path: "/etc/shadow", ShouldExist: true, Permissions: "-rw-r--r--"}, "/etc/shadow has permissions -rw-r-----, want -rw-r--r--"},
		{"dir permissions", FileExistenceTest{Path: "/tmp", ShouldExist: true, Permissions: "dtrwxrwxrwx"}, ""},
		{"setuid", FileExistenceTest{Path: "/bin/app", ShouldExist: true, Permissions: "urwxr-xr-x"}, ""},
		{"uid gid", FileExistenceTest{Path: "/bin/app2", ShouldExist: true, UID: id(1000), GID: id(1000)}, ""},
		{"wrong uid", FileExistenceTest{Path: "/etc/shadow", ShouldExist: true, UID: id(1), GID: id(42)}, "owned by uid 0, want 1"},
		{"wrong gid", FileExistenceTest{Path: "/etc/shadow", ShouldExist: true, GID: id(0)}, "owned by gid 42, want 0"},
		{"root owner", FileExistenceTest{Path: "/", ShouldExist: true, UID: id(0), GID: id(0)}, ""},
		{"executable by any", FileExistenceTest{Path: "/bin/app", ShouldExist: true, IsExecutableBy: "any"}, ""},
		{"executable by other", FileExistenceTest{Path: "/bin/app", ShouldExist: true, IsExecutableBy: "other"}, ""},
		{"not executable by owner", FileExistenceTest{Path: "/etc/passwd", ShouldExist: true, IsExecutableBy: "owner"}, "/etc/passwd (-rw-r--r--) is not executable by owner"},
		{"not executable by group", FileExistenceTest{Path: "/etc/shadow", ShouldExist: true, IsExecutableBy: "group"}, "not executable by group"},
		// CST stats the link itself, whose bits are all set.
		{"link executable", FileExistenceTest{Path: "/etc/os-release", ShouldExist: true, IsExecutableBy: "owner"}, ""},
		{"env in path", FileExistenceTest{Path: "${APP_DIR}/app", ShouldExist: true}, ""},
		{"several problems", FileExistenceTest{Path: "/etc/passwd", ShouldExist: true, Permissions: "-rwxrwxrwx", UID: id(5)}, "want -rwxrwxrwx; /etc/passwd is owned by uid 0, want 5"},
	}
	for _, tt := range tests {
		passed, msg := existence(tr, tt.ft, env)
		if tt.want == "" && (!passed || msg != "") {
			t.Errorf("%s: failed: %s", tt.name, msg)
		}
		if tt.want != "" && (passed || !strings.Contains(msg, tt.want)) {
			t.Errorf("%s: passed=%v %q, want a failure with %q", tt.name, passed, msg, tt.want)
		}
	}
}

func TestContentTarget(t *testing.T) {
	tr := fsImage(t)
	tests := []struct{ path, want, err string }{
		{"/etc/passwd", "/etc/passwd", ""},
		{"/etc/os-release", "/usr/lib/os-release", ""},
		{"/bin/app2", "/usr/bin/app", ""},
		{"/etc", "", "/etc: it is a directory"},
		{"/etc/gone", "", "cannot open /etc/gone"},
		{"/dangling", "", "cannot open /dangling"},
	}
	for _, tt := range tests {
		got, err := contentTarget(tr, FileContentTest{Path: tt.path})
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("contentTarget(%q) = %q, %v; want error %q", tt.path, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("contentTarget(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
}

func TestReadContents(t *testing.T) {
	img := wrap(t, build(t, nil, nil,
		layer(t, reg("a", "one"), reg("b", "two"), hardlink("c", "a"), dir("d/", 0o755)),
		layer(t, reg("a", "ONE"))), "contents")
	got, tooBig, err := readContents(context.Background(), img, map[string]bool{"/a": true, "/c": true, "/d": true, "/missing": true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || string(got["/a"]) != "ONE" || len(tooBig) != 0 {
		t.Errorf("got %q, too big %v; want only /a = ONE (the upper layer's)", got, tooBig)
	}
}

func TestContents(t *testing.T) {
	const passwd = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
	tests := []struct {
		name               string
		expected, excluded []string
		want               string
	}{
		{"substring", []string{"nobody"}, nil, ""},
		{"anchored whole file", []string{`^root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n$`}, nil, ""},
		{"anchored mismatch", []string{`^nobody`}, nil, `expected "^nobody" not found in file content "root:x`},
		{"excluded absent", nil, []string{"nonroot"}, ""},
		{"excluded present", nil, []string{`65534:\d+`}, `excluded "65534:\\d+" found in file content: "65534:65534"`},
		{"dot does not cross lines", []string{`root.*nobody`}, nil, "not found"},
		{"flags", []string{`(?s)root.*nobody`}, nil, ""},
		{"several", []string{"x", "zzz"}, []string{"root", "qqq"}, `expected "zzz" not found in file content "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"; excluded "root" found in file content: "root"`},
	}
	for _, tt := range tests {
		passed, msg := contents(FileContentTest{ExpectedContents: tt.expected, ExcludedContents: tt.excluded}, passwd)
		if tt.want == "" && (!passed || msg != "") {
			t.Errorf("%s: failed: %s", tt.name, msg)
		}
		if tt.want != "" && (passed || !strings.Contains(msg, tt.want)) {
			t.Errorf("%s: passed=%v %q, want a failure with %q", tt.name, passed, msg, tt.want)
		}
	}
}

// TestTreeEntryTypes pins the mode strings of entry kinds CST users write.
func TestTreeEntryTypes(t *testing.T) {
	tr, err := readTree(context.Background(), wrap(t, build(t, nil, nil, layer(t,
		file{name: "dev/null", typ: tar.TypeChar, mode: 0o666},
		file{name: "run/fifo", typ: tar.TypeFifo, mode: 0o600},
		file{name: "usr/bin/sgid", mode: 0o2755},
	)), "types"))
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"/dev/null": "Dcrw-rw-rw-", "/run/fifo": "prw-------", "/usr/bin/sgid": "grwxr-xr-x"} {
		if _, e, err := tr.lookup(p, false); err != nil || e.mode.String() != want {
			t.Errorf("%s: %v %v, want %s", p, e, err, want)
		}
	}
}
