package helm

import (
	"errors"
	"slices"
	"testing"
)

func TestParseRelease(t *testing.T) {
	for _, tc := range []struct {
		arg, want string
	}{
		{"helm/demo", "demo"}, {"HELM/demo", "demo"}, {"helm/web-1", "web-1"}, {"release/web-1", ""},
		{"helm/", ""}, {"deploy/demo", ""}, {"demo", ""}, {"helm/a/b", ""},
	} {
		got, err := ParseRelease(tc.arg)
		if got != tc.want || (tc.want == "") != errors.Is(err, ErrBadRelease) {
			t.Errorf("ParseRelease(%q) = %q, %v; want %q", tc.arg, got, err, tc.want)
		}
	}
}

func TestManifestImages(t *testing.T) {
	for _, tc := range []struct {
		manifest string
		want     []string
	}{
		{"", nil},
		{"containers:\n- name: a\n  image: \"nginx:1.0\"\n- image: busybox\n  name: b\n", []string{"nginx:1.0", "busybox"}},
		{"  image: 'x:1'\n  image: x:1\n", []string{"x:1"}},
		{"imagePullPolicy: Always\n", nil},
	} {
		if got := manifestImages(tc.manifest); !slices.Equal(got, tc.want) {
			t.Errorf("manifestImages(%q) = %q, want %q", tc.manifest, got, tc.want)
		}
	}
}

func FuzzParseRelease(f *testing.F) {
	for _, s := range []string{"helm/demo", "helm/", "/", "deploy/x", "helm/a/b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := ParseRelease(s)
		if err == nil && (name == "" || len(name) > 53) {
			t.Fatalf("ParseRelease(%q) accepted %q", s, name)
		}
	})
}
