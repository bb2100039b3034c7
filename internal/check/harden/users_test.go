package harden

import (
	"strings"
	"testing"
)

const (
	testPasswd = `root:x:0:0:root:/root:/bin/sh
# a comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin

nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
app:x:1000:1001::/app:
toor:x:0:0:another root:/root:/bin/sh
broken:x:notanumber:1::/:
short:x:5
nonroot:x:4242:4242:a second line for the name:/:
`
	testGroup = `root:x:0:
nogroup:x:65534:
nonroot:x:65532:
app:x:1001:app
staff:x:50:app,nonroot
bad:x:-1:
`
)

func TestResolveUser(t *testing.T) {
	tests := []struct {
		spec     string
		uid, gid int
		name     string
		problem  string
	}{
		{spec: "", uid: 0, gid: 0, name: "root"},
		{spec: "0", uid: 0, gid: 0, name: "root"},
		{spec: "root", uid: 0, gid: 0, name: "root"},
		{spec: "toor", uid: 0, gid: 0, name: "toor"},
		{spec: "nobody", uid: 65534, gid: 65534, name: "nobody"},
		{spec: "nonroot", uid: 65532, gid: 65532, name: "nonroot"},
		{spec: "65532", uid: 65532, gid: 65532, name: "nonroot"},
		{spec: "65532:65532", uid: 65532, gid: 65532, name: "nonroot"},
		{spec: "app:app", uid: 1000, gid: 1001, name: "app"},
		{spec: "app:staff", uid: 1000, gid: 50, name: "app"},
		{spec: "1000:0", uid: 1000, gid: 0, name: "app"},
		{spec: "4242", uid: 4242, gid: -1},
		{spec: "12345:54321", uid: 12345, gid: 54321},
		{spec: "ghost", problem: `user "ghost" is not in the image's /etc/passwd`},
		{spec: "broken", problem: `user "broken" is not in`},
		{spec: "app:ghosts", uid: 1000, gid: 1001, name: "app", problem: `group "ghosts" is not in the image's /etc/group`},
		{spec: "-1", problem: `user "-1" is not in`},
		{spec: "99999999999", problem: "not in"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got := resolveUser(tt.spec, "image config", []byte(testPasswd), []byte(testGroup))
			if tt.problem != "" {
				if !strings.Contains(got.Problem, tt.problem) {
					t.Fatalf("problem = %q, want %q", got.Problem, tt.problem)
				}
				return
			}
			if got.Problem != "" || got.UID != tt.uid || got.GID != tt.gid || got.Name != tt.name {
				t.Errorf("resolveUser(%q) = %+v, want uid %d gid %d name %q", tt.spec, got, tt.uid, tt.gid, tt.name)
			}
		})
	}
}

func TestResolveUserWithoutAccountFiles(t *testing.T) {
	if got := resolveUser("65532", "image config", nil, nil); got.Problem != "" || got.UID != 65532 || got.GID != -1 {
		t.Errorf("numeric user in a scratch image = %+v", got)
	}
	if got := resolveUser("nonroot", "image config", nil, nil); got.Problem == "" {
		t.Errorf("a name without /etc/passwd resolved: %+v", got)
	}
}

func TestIdentityString(t *testing.T) {
	tests := map[string]identity{
		"uid 65532 (nonroot), gid 65532": {UID: 65532, GID: 65532, Name: "nonroot"},
		"uid 4242":                       {UID: 4242, GID: -1},
		`user "x": nope`:                 {Spec: "x", Problem: "nope"},
	}
	for want, id := range tests {
		if got := id.String(); got != want {
			t.Errorf("%+v = %q, want %q", id, got, want)
		}
	}
}

func FuzzParseAccounts(f *testing.F) {
	f.Add([]byte(testPasswd), true)
	f.Add([]byte(testGroup), false)
	f.Add([]byte("a:b:c:d\n::::\n:x:0:0\nx:x:4294967296:0\n"), true)
	f.Add([]byte("\r\n\x00:x:1:1\r\n"), false)
	f.Fuzz(func(t *testing.T, b []byte, passwd bool) {
		for n, a := range parseAccounts(b, passwd) {
			if n == "" || a.Name != n || a.ID < 0 || (passwd && a.GID < 0) || (!passwd && a.GID != -1) {
				t.Fatalf("bad account %q: %+v", n, a)
			}
		}
		for _, spec := range []string{"", "root", "0:0", "app:app", "nonroot"} {
			id := resolveUser(spec, "fuzz", b, b)
			if id.Problem == "" && id.UID < 0 {
				t.Fatalf("resolveUser(%q) = %+v", spec, id)
			}
		}
	})
}
