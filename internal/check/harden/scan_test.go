package harden

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

func TestShellsOf(t *testing.T) {
	const bb = "\x7fELF busybox"
	tests := []struct {
		name   string
		layers [][]ent
		// shells are "path→target" of the shells found; busybox the busybox binaries; applets
		// the number of links to busybox.
		shells  []string
		busybox []string
		applets int
	}{
		{name: "scratch with one binary", layers: [][]ent{{file("app", "\x7fELF", 0o755)}}},
		{name: "busybox with applet links of every kind", layers: [][]ent{{
			dir("bin", 0o755), file("bin/busybox", bb, 0o755),
			symlink("bin/sh", "/bin/busybox"), symlink("bin/ls", "busybox"),
			dir("usr/bin", 0o755), symlink("usr/bin/env", "../../bin/busybox"), hardlink("bin/cat", "bin/busybox"),
		}}, shells: []string{"/bin/sh→/bin/busybox"}, busybox: []string{"/bin/busybox"}, applets: 4},
		{name: "merged /usr with bash", layers: [][]ent{{
			symlink("bin", "usr/bin"), dir("usr/bin", 0o755), file("usr/bin/bash", "\x7fELF bash", 0o755), symlink("usr/bin/sh", "bash"),
		}}, shells: []string{"/bin/sh→/usr/bin/bash", "/bin/bash→/usr/bin/bash"}},
		{name: "dangling sh link", layers: [][]ent{{dir("bin", 0o755), symlink("bin/sh", "/bin/busybox")}}},
		{name: "looping links", layers: [][]ent{{dir("bin", 0o755), symlink("bin/sh", "/bin/dash"), symlink("bin/dash", "/bin/sh")}}},
		{name: "shell removed by a later layer", layers: [][]ent{
			{dir("bin", 0o755), file("bin/dash", "\x7fELF dash", 0o755)},
			{dir("bin", 0o755), file("bin/.wh.dash", "", 0o644)},
		}},
		{name: "zsh in /usr/local/bin", layers: [][]ent{{dir("usr/local/bin", 0o755), file("usr/local/bin/zsh", "\x7fELF", 0o755)}},
			shells: []string{"/usr/local/bin/zsh→/usr/local/bin/zsh"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ls []v1.Layer
			for _, l := range tt.layers {
				ls = append(ls, layerOf(t, l...))
			}
			sc, err := scan(context.Background(), fromLayout(t, imageOf(t, v1.Config{}, ls...)))
			if err != nil {
				t.Fatal(err)
			}
			got := shellsOf(sc)
			var shells []string
			for _, s := range got.Shells {
				shells = append(shells, s.Path+"→"+s.Target)
			}
			if !slices.Equal(shells, tt.shells) || !slices.Equal(got.Busybox, tt.busybox) || len(got.Applets) != tt.applets {
				t.Errorf("shells %q busybox %q applets %q; want %q %q %d", shells, got.Busybox, got.Applets, tt.shells, tt.busybox, tt.applets)
			}
		})
	}
}

// TestShellCheckAlpine runs the shell check on the real Alpine root filesystem: busybox and its
// hundreds of applet links.
func TestShellCheckAlpine(t *testing.T) {
	img := fromLayout(t, testenv.AlpineImage(t, "3.20.3"))
	for _, allow := range []bool{false, true} {
		r := run(t, &shellCheck{h: config.Harden{AllowShell: allow}, scans: newScans()}, nil, img)
		want := check.StatusFail
		if allow {
			want = check.StatusWarn
		}
		if r.Status != want || !strings.Contains(r.Message, "/bin/sh → /bin/busybox") || !strings.Contains(r.Message, "busybox /bin/busybox (+") {
			t.Errorf("allowShell %v: %s %q", allow, r.Status, r.Message)
		}
	}
}

// TestShellCheckDebianBusybox adds Debian's static busybox to a shell-less image.
func TestShellCheckDebianBusybox(t *testing.T) {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("busybox-static is not installed: %v", err)
	}
	base := layerOf(t, file("app", "\x7fELF", 0o755))
	old := fromLayout(t, imageOf(t, v1.Config{}, base))
	n := fromLayout(t, imageOf(t, v1.Config{}, base, layerOf(t, dir("bin", 0o755), file("bin/busybox", string(bb), 0o755), symlink("bin/sh", "busybox"))))
	r := run(t, &shellCheck{scans: newScans()}, old, n)
	if r.Status != check.StatusFail || !strings.Contains(r.Message, "a regression: OLD has none") || r.Baseline != "no shell" {
		t.Errorf("%s %q (baseline %q)", r.Status, r.Message, r.Baseline)
	}
	r = run(t, &shellCheck{scans: newScans()}, n, old)
	if r.Status != check.StatusPass || !strings.Contains(r.Message, "OLD did") {
		t.Errorf("removing the shell: %s %q", r.Status, r.Message)
	}
}

func TestFilesCheck(t *testing.T) {
	ping := file("bin/ping", "\x7fELF", 0o755)
	ping.pax = map[string]string{capabilityRecord: capsV2(true, 13)}
	base := []ent{
		dir("tmp", 0o1777), file("tmp/scratch", "", 0o666), dir("var/tmp", 0o1777), file("var/tmp/x", "", 0o777),
		dir("shared", 0o1777), dir("bin", 0o755), file("app", "\x7fELF", 0o755),
	}
	suid := file("bin/su", "\x7fELF", 0o4755)
	sgid := file("bin/wall", "\x7fELF", 0o2755)
	ww := file("etc/app.conf", "x", 0o666)
	wwDir := dir("srv", 0o777)
	clean := fromLayout(t, imageOf(t, v1.Config{}, layerOf(t, base...)))
	withSu := fromLayout(t, imageOf(t, v1.Config{}, layerOf(t, append(slices.Clone(base), suid)...)))
	tests := []struct {
		name     string
		old      bool
		extra    []ent
		want     check.Status
		msgs     []string
		measured string
	}{
		{name: "clean", want: check.StatusPass, msgs: []string{"no setuid/setgid"}, measured: "0 setuid/setgid, 0 world-writable, 0 with capabilities"},
		{name: "setuid on a first deployment", extra: []ent{suid}, want: check.StatusFail, msgs: []string{"NEW has 1 setuid/setgid file: /bin/su"}},
		{name: "setuid NEW adds", old: true, extra: []ent{suid, sgid}, want: check.StatusFail,
			msgs: []string{"NEW adds 1 setuid/setgid file: /bin/wall", "pre-existing: 1 setuid/setgid file OLD has too: /bin/su"}},
		{name: "setuid OLD has too", old: true, extra: []ent{suid}, want: check.StatusWarn, msgs: []string{"pre-existing"}},
		{name: "world-writable", extra: []ent{ww, wwDir}, want: check.StatusWarn,
			msgs: []string{"2 world-writable paths outside /tmp and /var/tmp: /etc/app.conf, /srv"}, measured: "0 setuid/setgid, 2 world-writable, 0 with capabilities"},
		{name: "file capabilities", extra: []ent{ping}, want: check.StatusWarn, msgs: []string{"1 file with capabilities: /bin/ping cap_net_raw=ep"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := clean
			if len(tt.extra) > 0 {
				n = fromLayout(t, imageOf(t, v1.Config{}, layerOf(t, append(slices.Clone(base), tt.extra...)...)))
			}
			var old = withSu
			if !tt.old {
				old = nil
			}
			r := run(t, &filesCheck{scans: newScans()}, old, n)
			if r.Status != tt.want {
				t.Errorf("status %s, want %s: %s", r.Status, tt.want, r.Message)
			}
			for _, m := range tt.msgs {
				if !strings.Contains(r.Message, m) {
					t.Errorf("message %q does not say %q", r.Message, m)
				}
			}
			if tt.measured != "" && r.Measured != tt.measured {
				t.Errorf("measured %q, want %q", r.Measured, tt.measured)
			}
			if tt.old && r.Baseline != "1 setuid/setgid, 0 world-writable, 0 with capabilities" {
				t.Errorf("baseline %q", r.Baseline)
			}
		})
	}
}

func TestUserCheck(t *testing.T) {
	passwd := layerOf(t, dir("etc", 0o755),
		file("etc/passwd", "root:x:0:0::/root:/bin/sh\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\napp:x:1000:1000::/app:\n", 0o644),
		file("etc/group", "root:x:0:\nnonroot:x:65532:\napp:x:1000:\n", 0o644))
	img := func(user string) v1.Image { return imageOf(t, v1.Config{User: user}, passwd) }
	tests := []struct {
		name      string
		old, new  string
		appUser   string
		noOld     bool
		want      check.Status
		msg, meas string
	}{
		{name: "nonroot by name", old: "65532", new: "nonroot", want: check.StatusPass, msg: "NEW runs as uid 65532 (nonroot), gid 65532", meas: "uid 65532 (nonroot), gid 65532"},
		{name: "root by default", noOld: true, new: "", want: check.StatusFail, msg: `NEW runs as root (user "" from the image config)`},
		{name: "root by name, OLD too", old: "root", new: "root", want: check.StatusFail, msg: "pre-existing: OLD runs as root too"},
		{name: "root after nonroot", old: "nonroot", new: "0", want: check.StatusFail, msg: "changed from OLD's uid 65532 (nonroot)"},
		{name: "other uid", old: "65532", new: "app:app", want: check.StatusWarn, msg: "NEW runs as uid 1000, the policy expects uid 65532"},
		{name: "unknown user", old: "65532", new: "ghost", want: check.StatusFail, msg: `user "ghost" is not in the image's /etc/passwd`},
		{name: "policy app.user wins", old: "0", new: "0", appUser: "65532", want: check.StatusPass, msg: "NEW runs as uid 65532"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var old = fromLayout(t, img(tt.old))
			if tt.noOld {
				old = nil
			}
			c := &userCheck{h: config.Harden{UID: 65532}, app: config.App{User: tt.appUser}, scans: newScans()}
			r := run(t, c, old, fromLayout(t, img(tt.new)))
			if r.Status != tt.want || !strings.Contains(r.Message, tt.msg) {
				t.Errorf("got %s %q, want %s %q", r.Status, r.Message, tt.want, tt.msg)
			}
			if tt.meas != "" && r.Measured != tt.meas {
				t.Errorf("measured %q, want %q", r.Measured, tt.meas)
			}
			if tt.noOld && r.Baseline != "no OLD image" {
				t.Errorf("baseline %q", r.Baseline)
			}
		})
	}
}
