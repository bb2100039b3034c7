package image

import (
	"errors"
	"strings"
	"testing"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestSplitRef(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want source
		bad  bool
	}{
		{in: "alpine:3.20", want: source{target: "alpine:3.20"}},
		{in: "localhost:5000/app:1", want: source{target: "localhost:5000/app:1"}},
		{in: "docker:5000/app:1", want: source{target: "docker:5000/app:1"}}, // a host called docker
		{in: "./alpine.tar", want: source{target: "./alpine.tar"}},
		{in: "registry:ghcr.io/org/app:1.2", want: source{transport: Registry, target: "ghcr.io/org/app:1.2"}},
		{in: "registry:127.0.0.1:5000/app@" + digest, want: source{transport: Registry, target: "127.0.0.1:5000/app@" + digest}},
		{in: "docker:alpine", want: source{transport: Daemon, target: "alpine"}},
		{in: "oci-dir:/tmp/l", want: source{transport: OCIDir, target: "/tmp/l"}},
		{in: "oci-dir:/tmp/l:3.20.3", want: source{transport: OCIDir, target: "/tmp/l", selector: "3.20.3"}},
		{in: "oci-dir:/tmp/l:docker.io/library/alpine:3.20", want: source{transport: OCIDir, target: "/tmp/l", selector: "docker.io/library/alpine:3.20"}},
		{in: "oci-dir:/tmp/a@b/l@" + digest, want: source{transport: OCIDir, target: "/tmp/a@b/l", selector: digest, byDigest: true}},
		{in: "oci-dir:/tmp/a@b", want: source{transport: OCIDir, target: "/tmp/a@b"}},
		{in: "docker-archive:img.tar", want: source{transport: DockerArchive, target: "img.tar"}},
		{in: "docker-archive:img.tar:alpine:3.20", want: source{transport: DockerArchive, target: "img.tar", selector: "alpine:3.20"}},
		{in: "docker-archive:img.tar:localhost:5000/a/b:1", want: source{transport: DockerArchive, target: "img.tar", selector: "localhost:5000/a/b:1"}},
		{in: "", bad: true},
		{in: "  ", bad: true},
		{in: "registry:", bad: true},
		{in: "docker:", bad: true},
		{in: "oci-dir:", bad: true},
		{in: "oci-dir::tag", bad: true},
		{in: "oci-dir:/tmp/l:", bad: true},
		{in: "oci-dir:/tmp/l@sha256:nothex", bad: true},
		{in: "oci-dir:@" + digest, bad: true},
		{in: "docker-archive:", bad: true},
		{in: "docker-archive:x.tar:", bad: true},
		{in: "oci-archive:x.tar", bad: true},
		{in: "dir:/rootfs", bad: true},
		{in: "alpine\n:3.20", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := splitRef(tc.in)
			if tc.bad {
				if !errors.Is(err, ErrBadReference) {
					t.Fatalf("splitRef(%q) = %+v, %v; want ErrBadReference", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("splitRef(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

// FuzzSplitRef: never panics; either an ErrBadReference of one line, or parts that write back
// to the input.
func FuzzSplitRef(f *testing.F) {
	for _, s := range []string{
		"alpine:3.20", "registry:127.0.0.1:5000/a:1", "docker:alpine", "oci-dir:/l:3.20",
		"oci-dir:/l@" + digest, "docker-archive:x.tar:alpine:3", "oci-archive:x", "docker:5000/x",
		"oci-dir:a@sha256:", ":", "@", "registry:@sha256:", "docker-archive::",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		src, err := splitRef(s)
		if err != nil {
			if !errors.Is(err, ErrBadReference) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("splitRef(%q): %v", s, err)
			}
			return
		}
		if back := join(src); back != s {
			t.Fatalf("splitRef(%q) = %+v, which writes back as %q", s, src, back)
		}
		if src.transport != "" && src.target == "" {
			t.Fatalf("splitRef(%q) = %+v: empty target", s, src)
		}
	})
}

func TestLooksLikePath(t *testing.T) {
	for in, want := range map[string]bool{
		"/data/img": true, "./img.tar": true, "../x": true, "~/x": true, "img.tar": true, "img.tar.gz": true,
		"alpine:3.20": false, "ghcr.io/org/app": false, "localhost:5000/app:1": false,
	} {
		if got := looksLikePath(in); got != want {
			t.Errorf("looksLikePath(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestRedactRef(t *testing.T) {
	const pass = "S3cr3tPassRef"
	for in, want := range map[string]string{
		"https://alice:hunter2@registry.example/app:1":                "https://[redacted]@registry.example/app:1",
		"http://alice:" + pass + "@127.0.0.1:1/x:1":                   "http://[redacted]@127.0.0.1:1/x:1",
		"user:" + pass + "@127.0.0.1:1/x:1":                           "[redacted]@127.0.0.1:1/x:1",
		"registry:user:" + pass + "@127.0.0.1:1/x:1":                  "registry:[redacted]@127.0.0.1:1/x:1",
		"docker:user:" + pass + "@127.0.0.1:1/x:1":                    "docker:[redacted]@127.0.0.1:1/x:1",
		"user@127.0.0.1:1/x:1":                                        "[redacted]@127.0.0.1:1/x:1",
		"me@corp.example:" + pass + "@reg.example/x":                  "[redacted]@reg.example/x",
		"user:pa/ss" + pass + "@reg.example/x":                        "[redacted]@reg.example/x",
		"registry:user:" + pass + "@reg.example/app@" + digest:        "registry:[redacted]@reg.example/app@" + digest,
		"could not parse reference: user:" + pass + "@h:1/x:1":        "could not parse reference: [redacted]@h:1/x:1",
		`ref "docker:u:` + pass + `@h/x" is bad (u:` + pass + `@h/y)`: `ref "docker:[redacted]@h/x" is bad ([redacted]@h/y)`,
		"registry:127.0.0.1:5000/app@" + digest:                       "registry:127.0.0.1:5000/app@" + digest,
		"alpine@" + digest:                                            "alpine@" + digest,
		"alpine:3.20":                                                 "alpine:3.20",
		"oci-dir:/data/a@b:1":                                         "oci-dir:/data/a@b:1",
		"docker-archive:/tmp/x@y.tar":                                 "docker-archive:/tmp/x@y.tar",
		"":                                                            "",
	} {
		got := RedactRef(in)
		if got != want {
			t.Errorf("RedactRef(%q) = %q, want %q", in, got, want)
		}
		if strings.Contains(got, pass) || strings.Contains(got, "hunter2") {
			t.Errorf("RedactRef(%q) = %q shows the password", in, got)
		}
	}
}

// TestResolveHidesRefPasswords resolves every form of a reference with a password in it: the
// error names the reference without the password.
func TestResolveHidesRefPasswords(t *testing.T) {
	const pass = "S3cr3tPassRef"
	for _, ref := range []string{
		"user:" + pass + "@127.0.0.1:1/x:1",
		"registry:user:" + pass + "@127.0.0.1:1/x:1",
		"docker:user:" + pass + "@127.0.0.1:1/x:1",
		"https://user:" + pass + "@127.0.0.1:1/x:1",
		"http://user:" + pass + "@127.0.0.1:1/x:1",
		"registry:user:" + pass + "@127.0.0.1:1/x@" + digest,
	} {
		_, err := Resolve(t.Context(), ref, Options{})
		if err == nil {
			t.Errorf("Resolve(%q) succeeded", ref)
			continue
		}
		if strings.Contains(err.Error(), pass) {
			t.Errorf("Resolve(%q): error shows the password: %v", ref, err)
		}
	}
}

// join writes src back in the syntax splitRef reads.
func join(src source) string {
	if src.transport == "" {
		return src.target
	}
	out := string(src.transport) + ":" + src.target
	switch {
	case src.byDigest:
		out += "@" + src.selector
	case src.selector != "":
		out += ":" + src.selector
	}
	return out
}
