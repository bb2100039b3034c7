package plan

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

// TestSeed pins the seed table of our users' upgrade strategy.
func TestSeed(t *testing.T) {
	L := func(ls ...check.Layer) []check.Layer { return ls }
	tests := []struct {
		kind            Kind
		risk            string
		layers, require []check.Layer
		budget, soak    time.Duration
		within          float64
		leak            bool
		promotion       string
	}{
		{SameDigest, "none", nil, nil, 0, 0, 0, false, "already verified: the new image is the old image"},
		{Patch, "low", L(1, 2, 4, 5), L(1, 2, 5), 15 * time.Minute, 0, 0, false,
			"L1 diff + L2 smoke + L5 harden pass; no new critical/high vulnerabilities"},
		{Hotfix, "medium", L(1, 2, 5), L(1, 2, 5), 20 * time.Minute, 0, 0, false, "L1 diff + L2 smoke + L5 harden pass"},
		{Minor, "medium", L(1, 2, 3, 4, 5), L(2, 3, 4, 5), time.Hour, 0, 0, false,
			"L2 smoke + L3 functional + L4 perf + L5 harden pass"},
		{Custom, "unknown", L(1, 2, 3, 4, 5), L(1, 2, 3, 4, 5), time.Hour, 0, 0, false,
			"L1 diff + L2 smoke + L3 functional + L4 perf + L5 harden pass; full regression of the new image alone"},
		{Major, "high", L(1, 2, 3, 4, 5, 6), L(2, 3, 4, 5, 6), 72 * time.Hour, 24 * time.Hour, 0.15, false,
			"L2 smoke + L3 functional + L4 perf + L5 harden + L6 soak pass; metrics within 15 % of the old image; a soak of at least 24h"},
		{Distro, "high", L(1, 2, 3, 4, 5, 6), L(2, 3, 4, 5, 6), 72 * time.Hour, 48 * time.Hour, 0.15, true,
			"L2 smoke + L3 functional + L4 perf + L5 harden + L6 soak pass; metrics within 15 % of the old image; a soak of at least 48h; no memory leak over the soak"},
	}
	if len(tests) != len(Kinds) {
		t.Fatalf("%d kinds tested, %d exist", len(tests), len(Kinds))
	}
	for _, tt := range tests {
		p, ok := Seed(tt.kind)
		if !ok {
			t.Fatalf("no seed for %s", tt.kind)
		}
		if p.Kind != tt.kind || p.Risk != tt.risk || !slices.Equal(p.Layers, tt.layers) || !slices.Equal(p.Required, tt.require) ||
			p.Budget != tt.budget || p.MinSoak != tt.soak || p.MetricsWithin != tt.within || p.LeakCheck != tt.leak || p.Promotion != tt.promotion {
			t.Errorf("Seed(%s) = %+v\nwant %+v", tt.kind, p, tt)
		}
		if p.Budget < p.MinSoak {
			t.Errorf("Seed(%s): budget %s shorter than the soak %s", tt.kind, p.Budget, p.MinSoak)
		}
	}
	if _, ok := Seed("nightly"); ok {
		t.Error("Seed of an unknown kind succeeded")
	}
	// A seed is a copy: changing it must not change the next one.
	p, _ := Seed(Major)
	p.Layers[0] = 9
	if q, _ := Seed(Major); q.Layers[0] != check.L1Diff || check.AllLayers[0] != check.L1Diff {
		t.Error("Seed returns the table's own slice")
	}
}

// alpineFacts reads the facts of the real Alpine minirootfs of version: os-release, and the
// versions of musl and libssl3 from the apk database.
func alpineFacts(t *testing.T, version string) *Facts {
	t.Helper()
	f, err := os.Open(testenv.AlpineRootfs(t, version))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	facts := &Facts{Libc: "musl", Cmd: []string{"/bin/sh"}}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch strings.TrimPrefix(h.Name, "./") {
		case "etc/os-release", "usr/lib/os-release":
			sc := bufio.NewScanner(tr)
			for sc.Scan() {
				k, v, _ := strings.Cut(sc.Text(), "=")
				switch k {
				case "ID":
					facts.OSID = strings.Trim(v, `"`)
				case "VERSION_ID":
					facts.OSVersionID = strings.Trim(v, `"`)
				}
			}
		case "lib/apk/db/installed":
			sc := bufio.NewScanner(tr)
			pkg := ""
			for sc.Scan() {
				line := sc.Text()
				switch {
				case strings.HasPrefix(line, "P:"):
					pkg = line[2:]
				case strings.HasPrefix(line, "V:") && pkg == "musl":
					facts.LibcVersion = line[2:]
				case strings.HasPrefix(line, "V:") && pkg == "libssl3":
					facts.OpenSSLVersion = line[2:]
				}
			}
		}
	}
	if facts.OSID == "" || facts.LibcVersion == "" || facts.OpenSSLVersion == "" {
		t.Fatalf("alpine %s: facts incomplete: %+v", version, facts)
	}
	return facts
}

// TestClassifyAlpine classifies the real Alpine 3.19.4 → 3.20.3 upgrade.
func TestClassifyAlpine(t *testing.T) {
	old, cur := alpineFacts(t, "3.19.4"), alpineFacts(t, "3.20.3")
	if old.LibcVersion != "1.2.4_git20230717-r4" || cur.LibcVersion != "1.2.5-r0" ||
		!strings.HasPrefix(old.OpenSSLVersion, "3.1.") || !strings.HasPrefix(cur.OpenSSLVersion, "3.3.") {
		t.Fatalf("not the expected Alpine pair: %+v → %+v", old, cur)
	}
	for _, tags := range [][2]string{{"3.19.4", "3.20.3"}, {"latest", "latest"}, {"", ""}} {
		p := Classify(Input{OldDigest: "sha256:1", NewDigest: "sha256:2", OldRepo: "alpine", NewRepo: "alpine",
			OldTag: tags[0], NewTag: tags[1], Old: old, New: cur})
		all := strings.Join(p.Reasons, "\n")
		if p.Kind != Distro || p.Risk != "high" || p.MinSoak != 48*time.Hour || !p.LeakCheck {
			t.Errorf("tags %v: got %s (risk %s, soak %s, leak %v), want distro:\n%s", tags, p.Kind, p.Risk, p.MinSoak, p.LeakCheck, all)
		}
		for _, want := range []string{
			"os-release alpine 3.19.4→3.20.3, a new release (distro)",
			"musl 1.2.4_git20230717-r4→1.2.5-r0: a patch release (patch)",
			"OpenSSL " + old.OpenSSLVersion + "→" + cur.OpenSSLVersion + ": a new minor release (minor)",
		} {
			if !strings.Contains(all, want) {
				t.Errorf("tags %v: no reason %q in:\n%s", tags, want, all)
			}
		}
		if tags[0] == "latest" && !strings.Contains(all, "a new release (distro) (riskier reading wins)") {
			t.Errorf("tags %v: the deciding reason is not marked:\n%s", tags, all)
		}
	}
}

// TestClassifyAlpineDowngrade classifies the real Alpine 3.20.3 → 3.19.4 pair, a downgrade, under
// the distribution's repository name (as pushed to a registry of one's own) and without tags.
func TestClassifyAlpineDowngrade(t *testing.T) {
	old, cur := alpineFacts(t, "3.20.3"), alpineFacts(t, "3.19.4")
	for _, in := range []Input{
		{OldRepo: "127.0.0.1:5000/lib/alpine", NewRepo: "127.0.0.1:5000/lib/alpine", OldTag: "3.20.3", NewTag: "3.19.4"},
		{OldRepo: "alpine", NewRepo: "alpine", OldTag: "latest", NewTag: "latest"},
		{OldRepo: "lib/base", NewRepo: "lib/base", OldTag: "3.20.3", NewTag: "3.19.4"},
		{},
	} {
		in.OldDigest, in.NewDigest, in.Old, in.New = "sha256:1", "sha256:2", old, cur
		p := Classify(in)
		all := strings.Join(p.Reasons, "\n")
		if p.Kind != Distro {
			t.Errorf("%s %s→%s: got %s, want distro:\n%s", in.NewRepo, in.OldTag, in.NewTag, p.Kind, all)
		}
		for _, want := range []string{
			"os-release alpine 3.20.3→3.19.4, a downgrade to an older release (distro)",
			"musl 1.2.5-r0→1.2.4_git20230717-r4: a downgrade to an older patch release (patch)",
			"OpenSSL " + old.OpenSSLVersion + "→" + cur.OpenSSLVersion + ": a downgrade to an older minor release (minor)",
			"a downgrade of alpine release 3.20.3→3.19.4, musl 1.2.5-r0→1.2.4_git20230717-r4, OpenSSL " +
				old.OpenSSLVersion + "→" + cur.OpenSSLVersion + ": the verdict is at least CAUTION",
		} {
			if !strings.Contains(all, want) {
				t.Errorf("%s %s→%s: no reason %q in:\n%s", in.NewRepo, in.OldTag, in.NewTag, want, all)
			}
		}
		for _, wrong := range []string{"a new release", "a patch release", "a new minor release"} {
			if strings.Contains(all, wrong) {
				t.Errorf("%s %s→%s: a downgrade read as %q:\n%s", in.NewRepo, in.OldTag, in.NewTag, wrong, all)
			}
		}
		if len(p.Downgrades) != 3 || p.Downgrades[0].Old != "3.20.3" || p.Downgrades[0].New != "3.19.4" ||
			!strings.Contains(p.Downgrades[0].Source, "os-release") {
			t.Errorf("%s %s→%s: downgrades %+v, want alpine release, musl, OpenSSL", in.NewRepo, in.OldTag, in.NewTag, p.Downgrades)
		}
		if in.NewRepo != "" && strings.HasSuffix(in.NewRepo, "alpine") && in.OldTag != "latest" &&
			p.Downgrades[0].Source != "image tags; os-release VERSION_ID of both images" {
			t.Errorf("%s %s→%s: the release downgrade read from %q, want the tags and os-release", in.NewRepo, in.OldTag, in.NewTag, p.Downgrades[0].Source)
		}
	}
	// The upgrade the other way has no downgrade.
	if p := Classify(Input{OldTag: "3.19.4", NewTag: "3.20.3", OldRepo: "alpine", NewRepo: "alpine", Old: cur, New: old}); len(p.Downgrades) != 0 {
		t.Errorf("the upgrade 3.19.4→3.20.3 has downgrades %+v", p.Downgrades)
	}
}

// TestClassifyDowngrades reads downgrades of the distribution, libc and OpenSSL, by tag and by
// content, and OpenSSL's letter releases; versions are those of real Alpine and Debian releases.
func TestClassifyDowngrades(t *testing.T) {
	alpine := func(release, musl, ssl string) *Facts {
		return &Facts{OSID: "alpine", OSVersionID: release, Libc: "musl", LibcVersion: musl, OpenSSLVersion: ssl}
	}
	debian := func(release, libc, ssl string) *Facts {
		return &Facts{OSID: "debian", OSVersionID: release, Libc: "glibc", LibcVersion: libc, OpenSSLVersion: ssl}
	}
	tests := []struct {
		name  string
		in    Input
		want  Kind
		why   []string
		downs []string
	}{
		{"alpine 3.9.6 to 3.10.3 takes OpenSSL back from 1.1.1g to 1.1.1d",
			Input{OldRepo: "alpine", NewRepo: "alpine", OldTag: "3.9.6", NewTag: "3.10.3",
				Old: alpine("3.9.6", "1.1.20-r5", "1.1.1g-r0"), New: alpine("3.10.3", "1.1.22-r3", "1.1.1d-r0")},
			Distro, []string{"alpine 3.9.6→3.10.3, a new release (distro)", "musl 1.1.20-r5→1.1.22-r3: a patch release (patch)",
				"OpenSSL 1.1.1g-r0→1.1.1d-r0: a downgrade to an older letter release (patch)"},
			[]string{"OpenSSL 1.1.1g-r0→1.1.1d-r0"}},
		{"OpenSSL letter release upgrade",
			Input{OldTag: "1.0.0", NewTag: "1.0.1", Old: alpine("3.10.3", "1.1.22-r3", "1.1.1d-r0"), New: alpine("3.10.9", "1.1.22-r4", "1.1.1k-r0")},
			Patch, []string{"OpenSSL 1.1.1d-r0→1.1.1k-r0: a new letter release (patch)"}, nil},
		{"OpenSSL letter release, Debian spelling",
			Input{OldTag: "1.0.0", NewTag: "1.0.1", Old: debian("11", "2.31-13+deb11u11", "1.1.1w-0+deb11u1"), New: debian("11", "2.31-13+deb11u11", "1.1.1n-0+deb11u5")},
			Patch, []string{"OpenSSL 1.1.1w-0+deb11u1→1.1.1n-0+deb11u5: a downgrade to an older letter release (patch)"},
			[]string{"OpenSSL 1.1.1w-0+deb11u1→1.1.1n-0+deb11u5"}},
		{"debian bookworm to bullseye by codename and content",
			Input{OldRepo: "python", NewRepo: "python", OldTag: "3.12.1-slim-bookworm", NewTag: "3.12.1-slim-bullseye",
				Old: debian("12", "2.36-9+deb12u7", "3.0.15-1~deb12u1"), New: debian("11", "2.31-13+deb11u11", "1.1.1w-0+deb11u1")},
			Distro, []string{"base debian 12→11, debian 12→11, a downgrade to an older release (distro)",
				"os-release debian 12→11, a downgrade to an older release (distro)",
				"glibc 2.36-9+deb12u7→2.31-13+deb11u11: a downgrade to an older release (distro)",
				"OpenSSL 3.0.15-1~deb12u1→1.1.1w-0+deb11u1: a downgrade to an older release (major)"},
			[]string{"debian release 12→11", "glibc 2.36-9+deb12u7→2.31-13+deb11u11", "OpenSSL 3.0.15-1~deb12u1→1.1.1w-0+deb11u1"}},
		{"point release downgrade by tag only",
			Input{OldRepo: "alpine", NewRepo: "alpine", OldTag: "3.19.4", NewTag: "3.19.1", Old: alpine("3.19.4", "1.2.4_git20230717-r4", "3.1.7-r1")},
			Patch, []string{"alpine 3.19.4→3.19.1, a downgrade to an older point release (patch)"}, []string{"alpine release 3.19.4→3.19.1"}},
		{"musl patch downgrade under a patch tag",
			Input{OldTag: "1.4.2", NewTag: "1.4.3", Old: alpine("3.20.3", "1.2.5-r0", "3.3.2-r0"), New: alpine("3.20.3", "1.2.4_git20230717-r4", "3.3.2-r0")},
			Patch, []string{"musl 1.2.5-r0→1.2.4_git20230717-r4: a downgrade to an older patch release (patch)"},
			[]string{"musl 1.2.5-r0→1.2.4_git20230717-r4"}},
		{"a rebuild of the same versions is no downgrade",
			Input{OldTag: "1.4.2", NewTag: "1.4.3", Old: alpine("3.20.3", "1.2.5-r1", "3.3.2-r0"), New: alpine("3.20.3", "1.2.5-r0", "3.3.2-r0")},
			Patch, []string{"musl 1.2.5-r1→1.2.5-r0: same version, another build (patch)"}, nil},
		{"an application's own downgrade is not a distribution downgrade",
			Input{OldTag: "1.4.3", NewTag: "1.4.2", Old: alpine("3.20.3", "1.2.5-r0", "3.3.2-r0"), New: alpine("3.20.3", "1.2.5-r0", "3.3.2-r0")},
			Patch, []string{"a patch bump, a downgrade (patch)"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Classify(tt.in)
			all := strings.Join(p.Reasons, "\n")
			if p.Kind != tt.want {
				t.Errorf("kind = %s, want %s:\n%s", p.Kind, tt.want, all)
			}
			for _, w := range tt.why {
				if !strings.Contains(all, w) {
					t.Errorf("no reason says %q:\n%s", w, all)
				}
			}
			var downs []string
			for _, d := range p.Downgrades {
				downs = append(downs, d.String())
				if d.Source == "" {
					t.Errorf("downgrade %s has no source", d)
				}
			}
			if !slices.Equal(downs, tt.downs) {
				t.Errorf("downgrades = %q, want %q", downs, tt.downs)
			}
			if len(downs) > 0 != strings.Contains(all, "the verdict is at least CAUTION") {
				t.Errorf("the reasons do not say a downgrade holds the verdict at CAUTION:\n%s", all)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	base := Facts{OSID: "debian", OSVersionID: "12", Libc: "glibc", LibcVersion: "2.36-9+deb12u4",
		OpenSSLVersion: "3.0.11-1~deb12u2", User: "", Entrypoint: []string{"docker-entrypoint.sh"}, Cmd: []string{"node"}}
	with := func(f func(*Facts)) *Facts { c := base; f(&c); return &c }
	tests := []struct {
		name     string
		in       Input
		want     Kind
		layers   []check.Layer
		required []check.Layer
		why      []string
	}{
		{"same digest reads nothing else",
			Input{OldDigest: "sha256:a", NewDigest: "sha256:a", OldTag: "3.12", NewTag: "4.0", Old: &base, New: with(func(f *Facts) { f.OSID = "alpine" })},
			SameDigest, nil, nil, []string{"digest sha256:a unchanged"}},
		{"same digest with --hotfix says the CVE is not fixed",
			Input{OldDigest: "sha256:a", NewDigest: "sha256:a", HotfixCVEs: []string{"CVE-2024-1"}},
			SameDigest, nil, nil, []string{"--hotfix CVE-2024-1 not checked"}},
		{"empty digests are not the same digest",
			Input{OldTag: "3.12.1", NewTag: "3.12.2", Old: &base, New: &base},
			Patch, []check.Layer{1, 2, 4, 5}, []check.Layer{1, 2, 5}, []string{"a patch bump"}},
		{"no old image is a first deployment",
			Input{NewDigest: "sha256:b", NewTag: "1.0", New: &base},
			Custom, []check.Layer{1, 2, 3, 4, 5}, []check.Layer{1, 2, 3, 4, 5}, []string{"first deployment"}},
		{"first deployment with --hotfix keeps the CVE",
			Input{NewDigest: "sha256:b", New: &base, HotfixCVEs: []string{"cve-2024-1"}},
			Custom, []check.Layer{1, 2, 3, 4, 5}, []check.Layer{1, 2, 3, 4, 5}, []string{"no old image", "CVE-2024-1"}},
		{"hotfix over a patch",
			Input{OldDigest: "sha256:a", NewDigest: "sha256:b", OldTag: "3.12.1", NewTag: "3.12.2", Old: &base, New: &base,
				HotfixCVEs: []string{" CVE-2024-3094 ", "CVE-2024-3094", ""}},
			Hotfix, []check.Layer{1, 2, 5}, []check.Layer{1, 2, 5}, []string{"--hotfix CVE-2024-3094: the named CVEs must be gone (hotfix) (riskier reading wins)"}},
		{"distro content beats a hotfix, the CVE stays and needs L1",
			Input{OldDigest: "sha256:a", NewDigest: "sha256:b", Old: &base, New: with(func(f *Facts) { f.OSVersionID = "13" }),
				HotfixCVEs: []string{"CVE-2024-3094"}},
			Distro, check.AllLayers, []check.Layer{1, 2, 3, 4, 5, 6}, []string{"os-release debian 12→13, a new release (distro) (riskier reading wins)"}},
		{"another distribution",
			Input{Old: &base, New: with(func(f *Facts) { f.OSID, f.OSVersionID, f.Libc, f.LibcVersion = "alpine", "3.20.3", "musl", "1.2.5-r0" })},
			Distro, check.AllLayers, []check.Layer{2, 3, 4, 5, 6}, []string{"os-release debian→alpine", "libc glibc→musl: another C library (distro)"}},
		{"OS gone from the new image",
			Input{Old: &base, New: with(func(f *Facts) { f.OSID, f.OSVersionID = "", "" })},
			Distro, check.AllLayers, nil, []string{"os-release debian→(none)"}},
		{"glibc minor release is distro",
			Input{OldTag: "20", NewTag: "20", Old: &base, New: with(func(f *Facts) { f.LibcVersion = "2.39-0ubuntu8" })},
			Distro, nil, nil, []string{"glibc 2.36-9+deb12u4→2.39-0ubuntu8: a new release (distro)"}},
		{"glibc package revision is patch",
			Input{OldTag: "3.12.1", NewTag: "3.12.1", Old: &base, New: with(func(f *Facts) { f.LibcVersion = "2.36-9+deb12u7" })},
			Patch, nil, nil, []string{"glibc 2.36-9+deb12u4→2.36-9+deb12u7: same version, another build (patch)"}},
		{"OpenSSL 1.1 to 3 is major",
			Input{OldTag: "3.12.1", NewTag: "3.12.2", Old: with(func(f *Facts) { f.OpenSSLVersion = "1.1.1w-0+deb11u1" }), New: &base},
			Major, check.AllLayers, nil, []string{"OpenSSL 1.1.1w-0+deb11u1→3.0.11-1~deb12u2: a new release (major) (riskier reading wins)"}},
		{"OpenSSL 1.0 to 1.1 is major",
			Input{Old: with(func(f *Facts) { f.OpenSSLVersion = "1.0.2u" }), New: with(func(f *Facts) { f.OpenSSLVersion = "1.1.1w" })},
			Major, nil, nil, []string{"OpenSSL 1.0.2u→1.1.1w: a new release (major)"}},
		{"OpenSSL patch",
			Input{OldTag: "3.12.1", NewTag: "3.12.2", Old: &base, New: with(func(f *Facts) { f.OpenSSLVersion = "3.0.15-1~deb12u1" })},
			Patch, nil, nil, []string{"OpenSSL 3.0.11-1~deb12u2→3.0.15-1~deb12u1: a patch release (patch)"}},
		{"OpenSSL removed",
			Input{OldTag: "3.12.1", NewTag: "3.12.2", Old: &base, New: with(func(f *Facts) { f.OpenSSLVersion = "" })},
			Minor, nil, nil, []string{"OpenSSL 3.0.11-1~deb12u2→(none): found in one image only (minor)"}},
		{"user change is at least minor",
			Input{OldTag: "3.12.1", NewTag: "3.12.2", Old: &base, New: with(func(f *Facts) { f.User = "app" })},
			Minor, nil, nil, []string{"user root→app"}},
		{"root spelled differently is no change",
			Input{OldTag: "3.12.1", NewTag: "3.12.2", Old: &base, New: with(func(f *Facts) { f.User = "0:0" })},
			Patch, nil, nil, nil},
		{"entrypoint change is at least minor",
			Input{OldTag: "3.12.1", NewTag: "3.12.2", Old: &base, New: with(func(f *Facts) { f.Entrypoint = []string{"/sbin/tini", "--"} })},
			Minor, nil, nil, []string{`entrypoint ["docker-entrypoint.sh"]→["/sbin/tini" "--"]`}},
		{"cmd change is at least minor",
			Input{OldTag: "3.12.1", NewTag: "3.12.2", Old: &base, New: with(func(f *Facts) { f.Cmd = nil })},
			Minor, nil, nil, []string{`cmd ["node"]→[]`}},
		{"unknown new facts: the tags decide",
			Input{OldTag: "3.12.1", NewTag: "3.12.2", Old: &base},
			Patch, nil, nil, []string{"facts of the new image unknown"}},
		{"tag reads major, content only patch: major wins",
			Input{OldRepo: "postgres", NewRepo: "postgres", OldTag: "15", NewTag: "16", Old: &base, New: with(func(f *Facts) { f.LibcVersion = "2.36-9+deb12u7" })},
			Major, nil, nil, []string{"a major bump (major) (riskier reading wins)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Classify(tt.in)
			all := strings.Join(p.Reasons, "\n")
			if p.Kind != tt.want {
				t.Errorf("kind = %s, want %s:\n%s", p.Kind, tt.want, all)
			}
			if tt.layers != nil && !slices.Equal(p.Layers, tt.layers) {
				t.Errorf("layers = %v, want %v", p.Layers, tt.layers)
			}
			if tt.required != nil && !slices.Equal(p.Required, tt.required) {
				t.Errorf("required = %v, want %v", p.Required, tt.required)
			}
			for _, w := range tt.why {
				if !strings.Contains(all, w) {
					t.Errorf("no reason says %q:\n%s", w, all)
				}
			}
			if len(p.HotfixCVEs) > 0 && !strings.Contains(p.Promotion, strings.Join(p.HotfixCVEs, ", ")+" gone from the new image") {
				t.Errorf("promotion %q does not require the hotfix CVEs %v", p.Promotion, p.HotfixCVEs)
			}
		})
	}
}

// TestPatchSaysWhyL4Runs: a patch runs L4 though its rule does not need it, and says why; a
// policy that leaves L4 out takes the explanation away with it.
func TestPatchSaysWhyL4Runs(t *testing.T) {
	f := &Facts{OSID: "alpine", OSVersionID: "3.20.3"}
	p := Classify(Input{OldTag: "1.4.2", NewTag: "1.4.3", Old: f, New: f})
	if p.Kind != Patch || !slices.Contains(p.Layers, check.L4Perf) || slices.Contains(p.Required, check.L4Perf) {
		t.Fatalf("patch plan %s: layers %v, required %v", p.Kind, p.Layers, p.Required)
	}
	if !slices.ContainsFunc(p.Reasons, func(r string) bool {
		return strings.HasPrefix(r, "L4 perf runs as the performance baseline of a maintenance patch")
	}) {
		t.Errorf("the patch plan does not say why L4 runs:\n%s", strings.Join(p.Reasons, "\n"))
	}
	q := ApplyOverrides(p, map[Kind]Override{Patch: {Layers: []check.Layer{check.L1Diff, check.L2Smoke, check.L5Harden}}})
	if slices.ContainsFunc(q.Reasons, func(r string) bool { return strings.HasPrefix(r, "L4 perf runs") }) {
		t.Errorf("L4 left out by the policy, yet the plan says why it runs:\n%s", strings.Join(q.Reasons, "\n"))
	}
	for _, k := range []Kind{Minor, Major, Hotfix} {
		in := Input{OldTag: "1.4.2", NewTag: map[Kind]string{Minor: "1.5.0", Major: "2.0.0", Hotfix: "1.4.3"}[k], Old: f, New: f}
		if k == Hotfix {
			in.HotfixCVEs = []string{"CVE-2024-1"}
		}
		if p := Classify(in); p.Kind != k || slices.Contains(p.Reasons, baselineWhy) {
			t.Errorf("%s plan (%s) says L4 runs as a baseline:\n%s", k, p.Kind, strings.Join(p.Reasons, "\n"))
		}
	}
}

func TestClassifyHotfixCVEs(t *testing.T) {
	f := &Facts{OSID: "alpine", OSVersionID: "3.20.3"}
	p := Classify(Input{OldTag: "1.0.0", NewTag: "1.0.1", Old: f, New: f, HotfixCVEs: []string{"cve-2024-1", " CVE-2024-1", "GHSA-xxxx-yyyy-zzzz"}})
	if want := []string{"CVE-2024-1", "GHSA-XXXX-YYYY-ZZZZ"}; !reflect.DeepEqual(p.HotfixCVEs, want) {
		t.Errorf("HotfixCVEs = %v, want %v", p.HotfixCVEs, want)
	}
	if want := "L1 diff + L2 smoke + L5 harden pass; CVE-2024-1, GHSA-XXXX-YYYY-ZZZZ gone from the new image"; p.Promotion != want {
		t.Errorf("promotion = %q, want %q", p.Promotion, want)
	}
}

func TestApplyOverrides(t *testing.T) {
	patch, _ := Seed(Patch)
	patch.Reasons = []string{"tag 3.12.1→3.12.2: a patch bump (patch)"}
	major, _ := Seed(Major)
	hotfix, _ := Seed(Hotfix)
	hotfix.HotfixCVEs = []string{"CVE-2024-1"}
	same, _ := Seed(SameDigest)
	tests := []struct {
		name     string
		p        Plan
		o        map[Kind]Override
		layers   []check.Layer
		required []check.Layer
		budget   time.Duration
		soak     time.Duration
		why      []string
	}{
		{"no override for the kind", patch, map[Kind]Override{Major: {Budget: time.Hour}},
			patch.Layers, patch.Required, 15 * time.Minute, 0, nil},
		{"narrow patch layers", patch, map[Kind]Override{Patch: {Layers: []check.Layer{5, 2, 1, 2}, Budget: 30 * time.Minute}},
			[]check.Layer{1, 2, 5}, []check.Layer{1, 2, 5}, 30 * time.Minute, 0,
			[]string{"policy sets the patch layers to L1 diff, L2 smoke, L5 harden", "policy sets the patch budget to 30m (seed 15m)"}},
		{"an added layer becomes required, a dropped one is named", patch, map[Kind]Override{Patch: {Layers: []check.Layer{1, 3, 5}}},
			[]check.Layer{1, 3, 5}, []check.Layer{1, 3, 5}, 15 * time.Minute, 0,
			[]string{"policy leaves out L2 smoke, which the patch promotion rule requires"}},
		{"major soak", major, map[Kind]Override{Major: {MinSoak: 36 * time.Hour}},
			check.AllLayers, major.Required, 72 * time.Hour, 36 * time.Hour, []string{"policy sets the major soak to at least 36h (seed 24h)"}},
		{"a hotfix keeps L1", hotfix, map[Kind]Override{Hotfix: {Layers: []check.Layer{2}}},
			[]check.Layer{1, 2}, []check.Layer{1, 2}, 20 * time.Minute, 0, []string{"policy leaves out L1 diff, kept"}},
		{"dropping the soak drops its minimum", major, map[Kind]Override{Major: {Layers: []check.Layer{1, 2, 3, 4, 5}, MinSoak: time.Hour}},
			[]check.Layer{1, 2, 3, 4, 5}, []check.Layer{2, 3, 4, 5}, 72 * time.Hour, 0, []string{"policy leaves out L6 soak"}},
		{"same digest is never changed", same, map[Kind]Override{SameDigest: {Layers: []check.Layer{1}}},
			nil, nil, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := Plan{Layers: slices.Clone(tt.p.Layers), Reasons: slices.Clone(tt.p.Reasons)}
			q := ApplyOverrides(tt.p, tt.o)
			if !slices.Equal(q.Layers, tt.layers) || !slices.Equal(q.Required, tt.required) || q.Budget != tt.budget || q.MinSoak != tt.soak {
				t.Errorf("got layers %v required %v budget %s soak %s; want %v %v %s %s", q.Layers, q.Required, q.Budget, q.MinSoak,
					tt.layers, tt.required, tt.budget, tt.soak)
			}
			all := strings.Join(q.Reasons, "\n")
			for _, w := range tt.why {
				if !strings.Contains(all, w) {
					t.Errorf("no reason says %q:\n%s", w, all)
				}
			}
			if tt.why == nil && len(q.Reasons) != len(tt.p.Reasons) {
				t.Errorf("reasons added without an override: %q", q.Reasons)
			}
			if !slices.Equal(tt.p.Layers, before.Layers) || !slices.Equal(tt.p.Reasons, before.Reasons) {
				t.Error("ApplyOverrides changed its input")
			}
			if !strings.HasPrefix(q.Promotion, layerList(q.Required, " + ")) || q.MinSoak == 0 && strings.Contains(q.Promotion, "soak") {
				t.Errorf("promotion %q does not follow the required layers %v", q.Promotion, q.Required)
			}
		})
	}
}

func FuzzClassify(f *testing.F) {
	f.Add("sha256:a", "sha256:b", "python", "3.12.1-slim", "3.13.0-alpine3.20", "alpine", "3.19.4", "1.2.4_git20230717-r4", "3.1.7-r0", "root", "CVE-2024-1", true)
	f.Add("", "", "node", "18", "22", "debian", "12", "2.36-9", "1.1.1w", "", "", false)
	f.Add("x", "x", "", "latest", "latest", "", "", "", "", "0:0", "", true)
	f.Fuzz(func(t *testing.T, oldDigest, newDigest, repo, oldTag, newTag, osID, osVersion, libcVersion, openssl, user, cve string, hasOld bool) {
		newFacts := &Facts{OSID: osID, OSVersionID: osVersion, Libc: "musl", LibcVersion: libcVersion, OpenSSLVersion: openssl, User: user}
		in := Input{OldDigest: oldDigest, NewDigest: newDigest, OldRepo: repo, NewRepo: repo, OldTag: oldTag, NewTag: newTag,
			New: newFacts, HotfixCVEs: []string{cve}}
		if hasOld {
			in.Old = &Facts{OSID: "alpine", OSVersionID: "3.19.4", Libc: "musl", LibcVersion: "1.2.4", OpenSSLVersion: "3.1.7"}
		}
		p := Classify(in)
		if !slices.Contains(Kinds, p.Kind) || len(p.Reasons) == 0 || p.Promotion == "" {
			t.Fatalf("Classify(%+v) = %+v", in, p)
		}
		for _, l := range p.Required {
			if !slices.Contains(p.Layers, l) {
				t.Fatalf("required %s not planned: %+v", l, p)
			}
		}
		ApplyOverrides(p, map[Kind]Override{p.Kind: {Layers: []check.Layer{check.L2Smoke}, Budget: time.Minute}})
	})
}

// TestDroppingTheSoakKeepsTheLeakCheck: a policy that leaves L6 out of a distro plan does not
// make the rule "no memory leak over the soak" go away: it stays, for the gate to say unmet.
func TestDroppingTheSoakKeepsTheLeakCheck(t *testing.T) {
	distro, _ := Seed(Distro)
	q := ApplyOverrides(distro, map[Kind]Override{Distro: {Layers: []check.Layer{1, 2, 3, 4, 5}}})
	if !q.LeakCheck || !strings.Contains(q.Promotion, "no memory leak over the soak") || q.MinSoak != 0 {
		t.Errorf("leak check %v, minimum soak %s, promotion %q: want the leak check kept, the minimum gone", q.LeakCheck, q.MinSoak, q.Promotion)
	}
}
