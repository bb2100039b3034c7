package image

import (
	"maps"
	"strings"
	"testing"
)

func TestParseOSRelease(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     map[string]string
	}{
		{"alpine", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
			map[string]string{"NAME": "Alpine Linux", "ID": "alpine", "VERSION_ID": "3.20.3", "PRETTY_NAME": "Alpine Linux v3.20"}},
		{"comments and blanks", "# a comment\n\n  ID=debian\n#ID=ubuntu\n", map[string]string{"ID": "debian"}},
		{"single quotes keep backslashes", `VERSION='12 (book\worm)'`, map[string]string{"VERSION": `12 (book\worm)`}},
		{"double-quote escapes", `X="a \"b\" \\ \$HOME \` + "`" + `c\n"`, map[string]string{"X": `a "b" \ $HOME ` + "`c\\n"}},
		{"concatenated parts", `X="a"'b'c`, map[string]string{"X": "abc"}},
		{"bare escape", `X=a\ b`, map[string]string{"X": "a b"}},
		{"unquoted blank ends the value", "X=a b", map[string]string{"X": "a"}},
		{"empty values", "A=\nB=\"\"\nC=''", map[string]string{"A": "", "B": "", "C": ""}},
		{"crlf", "ID=ubuntu\r\nVERSION_ID=\"22.04\"\r\n", map[string]string{"ID": "ubuntu", "VERSION_ID": "22.04"}},
		{"unclosed quote runs to the end of the line", "PRETTY_NAME=\"CentOS 7\nID=centos", map[string]string{"PRETTY_NAME": "CentOS 7", "ID": "centos"}},
		{"later assignment wins", "ID=a\nID=b", map[string]string{"ID": "b"}},
		{"not assignments", "export ID=x\n1D=x\n=x\nID x\n-ID=x", map[string]string{}},
		{"equals in value", `URL="https://x.org/?a=b"`, map[string]string{"URL": "https://x.org/?a=b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseOSRelease(strings.NewReader(tc.in))
			if err != nil || !maps.Equal(got, tc.want) {
				t.Fatalf("parseOSRelease(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// quoteOSRelease writes v as os-release(5) says a value with special characters is written.
func quoteOSRelease(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "`", "\\`")
	return `"` + r.Replace(v) + `"`
}

// FuzzParseOSRelease: any input parses without panic into valid keys; and any value without a
// newline, quoted as the spec says, reads back unchanged among arbitrary other lines.
func FuzzParseOSRelease(f *testing.F) {
	f.Add("NAME=\"Alpine Linux\"\nID=alpine\n", "Alpine Linux v3.20")
	f.Add("X='a'\"b\"c\\ d # e", `quote " back \ slash $ dollar `+"`tick`")
	f.Add("ID=\"unclosed\n", "")
	f.Add("\r\n=\n#\n'", "'single'")
	f.Fuzz(func(t *testing.T, doc, value string) {
		got, err := parseOSRelease(strings.NewReader(doc))
		if err != nil {
			return // a line longer than maxDBLine
		}
		for k := range got {
			if !validKey(k) {
				t.Fatalf("parseOSRelease(%q) gave key %q", doc, k)
			}
		}
		if strings.Contains(value, "\n") {
			return
		}
		in := doc + "\nPLIMSOLL_FUZZ=" + quoteOSRelease(value) + "\n"
		got, err = parseOSRelease(strings.NewReader(in))
		if err != nil {
			return
		}
		if got["PLIMSOLL_FUZZ"] != value {
			t.Fatalf("value %q written as %s read back as %q", value, quoteOSRelease(value), got["PLIMSOLL_FUZZ"])
		}
	})
}

func TestApkVersions(t *testing.T) {
	db := "C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\n\nP:busybox\nV:1.36.1-r29\n\nP:libssl3\nV:3.3.2-r0\nR:libssl.so.3\n\nV:9.9.9\n\nP:openssl\n"
	got, err := apkVersions(strings.NewReader(db), apkWanted...)
	want := map[string]string{"musl": "1.2.5-r0", "libssl3": "3.3.2-r0"}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("apkVersions = %q, %v; want %q", got, err, want)
	}
}

func TestDpkgVersions(t *testing.T) {
	status := `Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u7
Description: GNU C Library: Shared libraries
 Contains the standard libraries.
 .
 Package: not-a-field

Package: libssl3
Status: deinstall ok config-files
Version: 3.0.11-1~deb12u1

package: openssl
status: install ok installed
version: 3.0.15-1~deb12u1

Package: libssl1.1
Status: install ok half-installed
Version: 1.1.1n-0+deb11u5
`
	got, err := dpkgVersions(strings.NewReader(status), dpkgWanted...)
	want := map[string]string{"libc6": "2.36-9+deb12u7", "openssl": "3.0.15-1~deb12u1"}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("dpkgVersions = %q, %v; want %q", got, err, want)
	}
	// A distroless status.d file has no Status field.
	got, err = dpkgVersions(strings.NewReader("Package: libssl3\nVersion: 3.0.15-1~deb12u1\n"), dpkgWanted...)
	if err != nil || got["libssl3"] != "3.0.15-1~deb12u1" {
		t.Fatalf("status.d file: %q, %v", got, err)
	}
}

func TestDotted(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		less bool
	}{{"", "1.1", true}, {"1.1", "3", true}, {"3", "1.1", false}, {"1.0.2", "1.1", true}, {"3", "3.0", true}, {"3.0", "3", false}} {
		if got := dottedLess(tc.a, tc.b); got != tc.less {
			t.Errorf("dottedLess(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
	for v, want := range map[string]bool{"3": true, "1.1": true, "2.31": true, "": false, "3.": false, "x": false, "1.-1": false} {
		if isDotted(v) != want {
			t.Errorf("isDotted(%q) = %v", v, !want)
		}
	}
}
