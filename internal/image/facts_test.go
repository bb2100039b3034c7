package image

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

func TestFactsOfBuiltImages(t *testing.T) {
	debianStatus := "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u7\n\n" +
		"Package: libssl3\nStatus: install ok installed\nVersion: 3.0.15-1~deb12u1\n\n" +
		"Package: libssl1.1\nStatus: deinstall ok config-files\nVersion: 1.1.1n-0+deb11u5\n"
	for _, tc := range []struct {
		name   string
		config v1.Config
		files  []entry
		want   Facts
	}{{
		name:   "debian merged-usr",
		config: v1.Config{User: "nobody", Entrypoint: []string{"/app"}, Cmd: []string{"--serve"}},
		files: []entry{
			symlink("bin", "usr/bin"), symlink("lib", "usr/lib"), symlink("lib64", "usr/lib64"),
			dir("etc/"), symlink("etc/os-release", "../usr/lib/os-release"),
			dir("usr/lib/"), file("usr/lib/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n"),
			dir("usr/bin/"), file("usr/bin/dash", "ELF"), symlink("usr/bin/sh", "dash"), file("usr/bin/bash", "ELF"),
			dir("usr/lib/x86_64-linux-gnu/"), file("usr/lib/x86_64-linux-gnu/libc.so.6", "ELF"),
			file("usr/lib/x86_64-linux-gnu/libssl.so.3", "ELF"),
			dir("usr/lib64/"), symlink("usr/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
			dir("var/lib/dpkg/"), file("var/lib/dpkg/status", debianStatus),
		},
		want: Facts{OSID: "debian", OSVersionID: "12", OSPrettyName: "Debian GNU/Linux 12 (bookworm)",
			Libc: "glibc", LibcVersion: "2.36-9+deb12u7", OpenSSLVersion: "3.0.15-1~deb12u1",
			User: "nobody", Entrypoint: []string{"/app"}, Cmd: []string{"--serve"}, Shells: []string{"/bin/sh", "/bin/bash"}},
	}, {
		name:   "distroless status.d, no shell",
		config: v1.Config{User: "65532"},
		files: []entry{
			file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Distroless\"\n"),
			file("lib/x86_64-linux-gnu/libc.so.6", "ELF"),
			file("var/lib/dpkg/status.d/libc6", "Package: libc6\nVersion: 2.36-9+deb12u4\n"),
			file("var/lib/dpkg/status.d/libc6.md5sums", "Package: fake\nVersion: 0\n"),
			file("var/lib/dpkg/status.d/libssl3", "Package: libssl3\nVersion: 3.0.11-1~deb12u2\n"),
			symlink("bin/sh", "/bin/busybox"), // dangling: not a shell
		},
		want: Facts{OSID: "debian", OSVersionID: "12", OSPrettyName: "Distroless", Libc: "glibc",
			LibcVersion: "2.36-9+deb12u4", OpenSSLVersion: "3.0.11-1~deb12u2", User: "65532"},
	}, {
		name: "no package database: versions from file names",
		files: []entry{
			file("usr/lib/os-release", "ID=custom\n"),
			file("lib/x86_64-linux-gnu/libc-2.31.so", "ELF"), symlink("lib/x86_64-linux-gnu/libc.so.6", "libc-2.31.so"),
			file("usr/lib/libssl.so.1.1", "ELF"), file("usr/lib/libssl.so.3", "ELF"), file("usr/lib/libssl.so.1.0.2", "ELF"),
			file("bin/busybox", "ELF"), hardlink("bin/sh", "bin/busybox"), hardlink("bin/ash", "bin/busybox"),
		},
		want: Facts{OSID: "custom", Libc: "glibc", LibcVersion: "2.31", OpenSSLVersion: "3",
			Shells: []string{"/bin/sh", "/bin/ash", "/bin/busybox"}},
	}, {
		name:  "musl loader without apk",
		files: []entry{file("lib/ld-musl-aarch64.so.1", "ELF"), file("usr/bin/busybox", "ELF")},
		want:  Facts{Libc: "musl", Shells: []string{"/usr/bin/busybox"}},
	}, {
		name:   "scratch",
		config: v1.Config{Entrypoint: []string{"/server"}},
		files:  []entry{file("server", "ELF")},
		want:   Facts{Entrypoint: []string{"/server"}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			img := resolveImage(t, buildImage(t, tc.config, layerOf(t, tc.files...)))
			got, err := img.Facts(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatalf("Facts (-want +got):\n%s", d)
			}
		})
	}
}

// BenchmarkFacts measures Facts over the Alpine 3.20.3 image read from an OCI layout.
func BenchmarkFacts(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "alpine")
	writeLayout(b, dir, map[string]v1.Image{"3.20.3": testenv.AlpineImage(b, "3.20.3")})
	img, err := Resolve(b.Context(), "oci-dir:"+dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		f, err := img.Facts(b.Context())
		if err != nil || f.LibcVersion != "1.2.5-r0" {
			b.Fatalf("Facts = %+v, %v", f, err)
		}
	}
}
