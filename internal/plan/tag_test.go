package plan

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseTagVersion(t *testing.T) {
	tests := []struct {
		tag  string
		want TagVersion
		ok   bool
	}{
		{"3.12.1-slim", TagVersion{Numbers: []int{3, 12, 1}, Flavor: "slim"}, true},
		{"3.12-slim", TagVersion{Numbers: []int{3, 12}, Flavor: "slim"}, true},
		{"py3.12.1", TagVersion{Prefix: "py", Numbers: []int{3, 12, 1}}, true},
		{"node18", TagVersion{Prefix: "node", Numbers: []int{18}}, true},
		{"1.21.5-prod", TagVersion{Numbers: []int{1, 21, 5}, Flavor: "prod"}, true},
		{"v2.3.4", TagVersion{Prefix: "v", Numbers: []int{2, 3, 4}}, true},
		{"release-1.2", TagVersion{Prefix: "release", Numbers: []int{1, 2}}, true},
		{"3.12.1-alpine3.19", TagVersion{Numbers: []int{3, 12, 1}, Distro: "alpine", DistroVersion: "3.19"}, true},
		{"3.12.1-slim-bookworm", TagVersion{Numbers: []int{3, 12, 1}, Flavor: "slim", Distro: "debian", DistroVersion: "12"}, true},
		{"8.2-fpm-alpine3.19", TagVersion{Numbers: []int{8, 2}, Flavor: "fpm", Distro: "alpine", DistroVersion: "3.19"}, true},
		{"17.0.9_9-jre-jammy", TagVersion{Numbers: []int{17, 0, 9}, Build: "9", Flavor: "jre", Distro: "ubuntu", DistroVersion: "22.04"}, true},
		{"16.1.0-debian-12-r15", TagVersion{Numbers: []int{16, 1, 0}, Build: "r15", Distro: "debian", DistroVersion: "12"}, true},
		{"21-jdk-al2023", TagVersion{Numbers: []int{21}, Flavor: "jdk", Distro: "amzn", DistroVersion: "2023"}, true},
		{"1.25.3-r4", TagVersion{Numbers: []int{1, 25, 3}, Build: "r4"}, true},
		{"1.2.3-4-g1a2b3c4", TagVersion{Numbers: []int{1, 2, 3}, Build: "4"}, true},
		{"3.13.0rc1", TagVersion{Numbers: []int{3, 13, 0}, Flavor: "rc1"}, true},
		{"18-alpine", TagVersion{Numbers: []int{18}, Distro: "alpine"}, true},
		{"alpine3.20", TagVersion{Distro: "alpine", DistroVersion: "3.20"}, true},
		{"ubi9-minimal", TagVersion{Distro: "rhel", DistroVersion: "9", Flavor: "minimal"}, true},
		{"bookworm", TagVersion{Distro: "debian", DistroVersion: "12"}, true},
		{"bookworm-slim", TagVersion{Distro: "debian", DistroVersion: "12", Flavor: "slim"}, true},
		{"jammy-20240405", TagVersion{Distro: "ubuntu", DistroVersion: "22.04", Build: "20240405"}, true},
		{"Latest", TagVersion{Flavor: "latest"}, false},
		{"lts-alpine", TagVersion{Flavor: "lts", Distro: "alpine"}, false},
		{"sha-1a2b3c4", TagVersion{Flavor: "sha"}, false},
		{"a1b2c3d", TagVersion{}, false},
		{"", TagVersion{}, false},
		{"99999999999999999999999", TagVersion{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseTagVersion(tt.tag)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseTagVersion(%q) = %+v, %v; want %+v, %v", tt.tag, got, ok, tt.want, tt.ok)
		}
	}
}

// TestClassifyTags reads real tag pairs with identical content, so only the tags decide.
func TestClassifyTags(t *testing.T) {
	same := &Facts{OSID: "debian", OSVersionID: "12", Libc: "glibc", LibcVersion: "2.36-9+deb12u7", OpenSSLVersion: "3.0.15-1~deb12u1"}
	tests := []struct {
		repo, old, new string
		want           Kind
		why            string // a part of the deciding reason
	}{
		{"python", "3.12.1-slim", "3.12.2-slim", Patch, "a patch bump"},
		{"python", "3.12-slim", "3.13-slim", Minor, "one step of the python release line"},
		{"python", "3.11", "3.13", Major, "2 steps of the python release line"},
		{"python", "3.13", "3.12", Minor, "a downgrade"},
		{"python", "3", "4", Major, "a new python major version"},
		{"python", "3.12.1-slim-bookworm", "3.12.1-slim-trixie", Distro, "base debian 12→13"},
		{"python", "3.12.1-alpine3.19", "3.12.2-alpine3.20", Distro, "alpine 3.19→3.20, a new release"},
		{"python", "3.12-slim", "3.12-alpine", Minor, "base (none)→alpine"},
		{"python", "3.12-slim", "3.12-slim", Patch, "a rebuild within its release"},
		{"python", "3.13.0rc1", "3.13.0", Minor, "variant rc1→(none)"},
		{"docker.io/library/node", "18-alpine", "20-alpine", Minor, "one step of the node release line"},
		{"node", "18-alpine", "22-alpine", Major, "2 steps of the node release line"},
		{"node", "18", "19", Minor, "one step"},
		{"node", "18", "21", Major, "2 steps"},
		{"node", "20.11.0", "20.11.1", Patch, "a patch bump"},
		{"node", "9223372036854775806", "9223372036854775807", Minor, "one step"},
		{"node", "20.10", "20.11", Minor, "a minor bump"},
		{"node", "18-bookworm-slim", "20-bookworm-slim", Minor, "one step"},
		{"node", "lts-alpine", "lts-alpine", Minor, "floats across releases"},
		{"node", "20", "20", Minor, "floats across releases"},
		{"golang", "1.21.5", "1.22.0", Minor, "one step of the go release line"},
		{"golang", "1.21.5-alpine3.19", "1.21.6-alpine3.19", Patch, "a patch bump"},
		{"golang", "1.20", "1.22", Major, "2 steps"},
		{"golang", "1.22-bookworm", "1.22-bullseye", Distro, "base debian 12→11"},
		{"ubuntu", "22.04", "24.04", Distro, "ubuntu 22.04→24.04, a new release"},
		{"ubuntu", "jammy-20240405", "jammy-20240605", Patch, "same version, a new build"},
		{"ubuntu", "jammy", "noble", Distro, "base ubuntu 22.04→24.04"},
		{"debian", "11", "12", Distro, "debian 11→12, a new release"},
		{"debian", "12.5", "12.6", Patch, "a point release"},
		{"debian", "bookworm-slim", "trixie-slim", Distro, "base debian 12→13"},
		{"alpine", "3.19.4", "3.20.3", Distro, "alpine 3.19.4→3.20.3, a new release"},
		{"alpine", "3.19.1", "3.19.4", Patch, "a point release"},
		{"alpine", "3.19", "3.20", Distro, "a new release"},
		{"nginx", "1.25.3", "1.25.4", Patch, "a patch bump"},
		{"nginx", "1.25.3-alpine", "1.26.0-alpine", Minor, "a minor bump"},
		{"nginx", "1.25-alpine-slim", "1.25-alpine-slim", Patch, "a rebuild"},
		{"nginx", "latest", "latest", Minor, "floats across releases"},
		{"postgres", "15", "16", Major, "a major bump"},
		{"postgres", "16.1-alpine3.19", "16.2-alpine3.19", Minor, "a minor bump"},
		{"postgres", "16-bookworm", "16.2-bookworm", Minor, "a minor bump"},
		{"eclipse-temurin", "17-jre", "21-jre", Minor, "one step of the Java release line"},
		{"eclipse-temurin", "11-jdk", "21-jdk", Major, "2 steps of the Java release line"},
		{"eclipse-temurin", "17.0.9_9-jre-jammy", "17.0.10_7-jre-jammy", Patch, "a patch bump"},
		{"eclipse-temurin", "21-jre-jammy", "21-jre-noble", Distro, "base ubuntu 22.04→24.04"},
		{"eclipse-temurin", "17-jre", "17-jdk", Minor, "variant jre→jdk"},
		{"amazoncorretto", "17-al2023", "21-al2023", Minor, "one step"},
		{"amazoncorretto", "17-al2", "17-al2023", Distro, "amzn 2→2023, a new release"},
		{"registry.access.redhat.com/ubi9/ubi", "9.3", "9.4", Distro, "rhel 9.3→9.4, a new release"},
		{"redis", "7.2.4", "7.4.0", Minor, "a minor bump"},
		{"redis", "6.2", "7.2", Major, "a major bump"},
		{"mongo", "6.0", "7.0", Major, "a major bump"},
		{"mysql", "8.0", "8.4", Minor, "a minor bump"},
		{"traefik", "v2.10", "v3.0", Major, "a major bump"},
		{"ruby", "3.2-slim", "3.3-slim", Minor, "one step of the ruby release line"},
		{"php", "8.2-fpm-alpine3.19", "8.3-fpm-alpine3.19", Minor, "one step of the php release line"},
		{"busybox", "1.36", "1.37", Minor, "a minor bump"},
		{"bitnami/postgresql", "16.1.0-debian-12-r15", "16.1.0-debian-12-r16", Patch, "same version, a new build"},
		{"bitnami/postgresql", "16.1.0-debian-11-r5", "16.1.0-debian-12-r1", Distro, "base debian 11→12"},
		{"myorg/app", "1.21.5-prod", "1.21.6-prod", Patch, "a patch bump"},
		{"myorg/app", "v2.3.4", "v2.4.0", Minor, "a minor bump"},
		{"myorg/app", "v2.3.4", "3.0.0", Major, "a major bump"},
		{"myorg/app", "sha-1a2b3c4", "sha-5d6e7f8", Minor, "no comparable version"},
		{"myorg/base", "py3.12.1", "py3.12.2", Patch, "a patch bump"},
		{"myorg/base", "node18", "node20", Minor, "one step of the node release line"},
		{"myorg/base", "py3.12", "node20", Major, "py→node name different release lines"},
		{"", "", "", Minor, "no version change found"},
	}
	for _, tt := range tests {
		t.Run(tt.repo+":"+tt.old+"→"+tt.new, func(t *testing.T) {
			p := Classify(Input{OldDigest: "sha256:a", NewDigest: "sha256:b", OldRepo: tt.repo, NewRepo: tt.repo,
				OldTag: tt.old, NewTag: tt.new, Old: same, New: same})
			if p.Kind != tt.want {
				t.Errorf("kind = %s, want %s; reasons:\n%s", p.Kind, tt.want, strings.Join(p.Reasons, "\n"))
			}
			if !containsReason(p.Reasons, tt.why) {
				t.Errorf("no reason says %q:\n%s", tt.why, strings.Join(p.Reasons, "\n"))
			}
		})
	}
}

func containsReason(reasons []string, part string) bool {
	for _, r := range reasons {
		if strings.Contains(r, part) {
			return true
		}
	}
	return false
}

func FuzzParseTagVersion(f *testing.F) {
	for _, s := range []string{"3.12.1-slim", "py3.12.1", "node18", "17.0.9_9-jre-jammy", "alpine3.20",
		"16.1.0-debian-12-r15", "jammy-20240405", "1.2.3-4-g1a2b3c4", "latest", "", "9.", "-1", "v.1", "ubi9-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		tv, ok := ParseTagVersion(tag)
		if ok && len(tv.Numbers) == 0 && tv.DistroVersion == "" {
			t.Errorf("ParseTagVersion(%q) ok without a version: %+v", tag, tv)
		}
		for _, n := range tv.Numbers {
			if n < 0 {
				t.Errorf("ParseTagVersion(%q) has a negative number: %+v", tag, tv)
			}
		}
	})
}
