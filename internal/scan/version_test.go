package scan

import "testing"

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		typ, a, b string
		want      int
	}{
		// apk: _git and -rN as apk orders them
		{"apk", "1.2.4_git20230717-r4", "1.2.5-r0", -1},
		{"apk", "1.36.1-r19", "1.36.1-r29", -1},
		{"apk", "3.1.7-r0", "3.3.2-r0", -1},
		{"apk", "1.2.5_rc1-r0", "1.2.5-r0", -1},
		{"apk", "20240705-r0", "20240226-r0", 1},
		{"apk", "1.3.1-r0", "1.3.1-r0", 0},
		// OpenSSL's letter releases: Alpine 3.9.6 → 3.10.3 carries libssl1.1 1.1.1g → 1.1.1d
		{"apk", "1.1.1g-r0", "1.1.1d-r0", 1},
		{"apk", "1.1.1d-r0", "1.1.1k-r0", -1},
		{"apk", "1.1.1w-r1", "3.0.15-r0", -1},
		{"deb", "1.1.1w-0+deb11u1", "1.1.1n-0+deb10u3", 1},
		// deb: epochs, tildes, revisions
		{"deb", "1:2.0-1", "2.1-1", 1},
		{"deb", "3.0.11-1~deb12u2", "3.0.11-1", -1},
		{"deb", "2.36-9+deb12u4", "2.36-9+deb12u10", -1},
		{"deb", "1.0~rc1-1", "1.0-1", -1},
		// rpm: epoch, release, tilde and caret
		{"rpm", "1:3.0.7-27.el9", "3.0.7-28.el9", 1},
		{"rpm", "3.0.7-27.el9", "3.0.7-28.el9", -1},
		{"rpm", "2.34-100.el9_4.2", "2.34-100.el9_4.10", -1},
		{"rpm", "1.0~rc1-1", "1.0-1", -1},
		{"rpm", "1.0^git1-1", "1.0-1", 1},
		{"rpm", "1.0a-1", "1.0.1-1", -1},
		// python: PEP 440 pre-releases and post-releases
		{"python", "1.0rc1", "1.0", -1},
		{"python", "1.0.post1", "1.0", 1},
		{"python", "2.31.0", "2.4.0", 1},
		// semantic versions for the others
		{"npm", "1.2.3-beta.1", "1.2.3", -1},
		{"go-module", "v1.21.13", "v1.22.7", -1},
		{"go-module", "v0.0.0-20230101000000-abcdef123456", "v0.1.0", -1},
		{"java-archive", "2.17.1", "2.9.0", 1},
		// not parseable by their ecosystem: rpm's segment order
		{"java-archive", "1.2.3.4", "1.2.3.10", -1},
		{"gem", "1.15.5.1", "1.15.5", 1},
		{"apk", "not a version", "not a version either", -1},
		{"deb", "", "1", -1},
	}
	for _, tt := range tests {
		if got := sign(compareVersions(tt.typ, tt.a, tt.b)); got != tt.want {
			t.Errorf("compareVersions(%s, %q, %q) = %d, want %d", tt.typ, tt.a, tt.b, got, tt.want)
		}
		if got := sign(compareVersions(tt.typ, tt.b, tt.a)); got != -tt.want {
			t.Errorf("compareVersions(%s, %q, %q) = %d, want %d (antisymmetry)", tt.typ, tt.b, tt.a, got, -tt.want)
		}
	}
}

func TestRPMVerCmp(t *testing.T) {
	// cases from rpm's own test suite (tests/rpmvercmp.at)
	tests := []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0}, {"1.0", "2.0", -1}, {"2.0.1", "2.0.1a", -1}, {"5.5p1", "5.5p2", -1},
		{"5.5p10", "5.5p1", 1}, {"10xyz", "10.1xyz", -1}, {"xyz10", "xyz10.1", -1}, {"xyz.4", "8", -1},
		{"1b.fc17", "1.fc17", -1}, {"1.0~rc1", "1.0~rc1", 0}, {"1.0~rc1", "1.0", -1},
		{"1.0~rc1~git123", "1.0~rc1", -1}, {"1.0^", "1.0", 1}, {"1.0^git1", "1.0^git2", -1},
		{"1.0^git1", "1.01", -1}, {"1.0^git1~pre", "1.0^git1", -1}, {"1.0~rc1^git1", "1.0~rc1", 1},
		{"20101121", "20101121.0", -1}, {"2_0", "2_0", 0}, {"2.0", "2_0", 0}, {"a", "a", 0}, {"+a", "_a", 0},
		{"001", "1", 0}, {"1.002", "1.1", 1},
	}
	for _, tt := range tests {
		if got := rpmvercmp(tt.a, tt.b); got != tt.want {
			t.Errorf("rpmvercmp(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
