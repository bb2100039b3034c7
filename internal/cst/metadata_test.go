package cst

import (
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestCheckMetadata(t *testing.T) {
	cfg := v1.Config{
		Env:          []string{"PATH=/usr/bin", "EMPTY=", "NOEQUALS", "VERSION=21.0.12.1"},
		Labels:       map[string]string{"org.opencontainers.image.version": "1.2.3", "empty": ""},
		Entrypoint:   []string{"/app"},
		Cmd:          []string{"serve", "--port=8080"},
		WorkingDir:   "/srv",
		User:         "65532:65532",
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "53/udp": {}},
		Volumes:      map[string]struct{}{"/data": {}},
	}
	list := func(s ...string) *[]string { return &s }
	tests := []struct {
		name string
		m    MetadataTest
		want []string
	}{
		{"nothing", MetadataTest{}, nil},
		{"env", MetadataTest{EnvVars: []KeyValue{{Key: "PATH", Value: "/usr/bin"}, {Key: "EMPTY"}, {Key: "NOEQUALS"}}}, nil},
		{"env regex", MetadataTest{EnvVars: []KeyValue{{Key: "VERSION", Value: `^21\.`, IsRegex: true}}}, nil},
		{"env wrong", MetadataTest{EnvVars: []KeyValue{{Key: "VERSION", Value: "21"}, {Key: "VERSION", Value: `^17`, IsRegex: true}, {Key: "JAVA_HOME", Value: "/x"}}}, []string{
			`environment variable VERSION is "21.0.12.1", want "21"`,
			`environment variable VERSION is "21.0.12.1", which does not match "^17"`,
			"environment variable JAVA_HOME not found in the image config",
		}},
		{"bad regex", MetadataTest{Labels: []KeyValue{{Key: "empty", Value: "(", IsRegex: true}}}, []string{
			"label empty: invalid regular expression \"(\": error parsing regexp: missing closing ): `(`",
		}},
		{"unbound", MetadataTest{UnboundEnvVars: []KeyValue{{Key: "SECRET"}, {Key: "EMPTY"}}}, []string{"environment variable EMPTY is set, want it unset"}},
		{"labels", MetadataTest{Labels: []KeyValue{{Key: "org.opencontainers.image.version", Value: `\d+\.\d+`, IsRegex: true}, {Key: "empty"}}}, nil},
		{"label missing", MetadataTest{Labels: []KeyValue{{Key: "maintainer", Value: "x"}}}, []string{"label maintainer not found in the image config"}},
		{"entrypoint and cmd", MetadataTest{Entrypoint: list("/app"), Cmd: list("serve", "--port=8080")}, nil},
		{"entrypoint differs", MetadataTest{Entrypoint: list(), Cmd: list("serve")}, []string{
			`entrypoint is ["/app"], want []`, `cmd is ["serve" "--port=8080"], want ["serve"]`,
		}},
		{"workdir and user", MetadataTest{Workdir: "/srv", User: "65532:65532"}, nil},
		{"workdir and user differ", MetadataTest{Workdir: "/app", User: "nonroot"}, []string{
			`workdir is "/srv", want "/app"`, `user is "65532:65532", want "nonroot"`,
		}},
		{"ports", MetadataTest{ExposedPorts: []string{"8080", "53/udp", "8080/tcp"}, UnexposedPorts: []string{"80", "53/tcp"}}, nil},
		{"ports wrong", MetadataTest{ExposedPorts: []string{"443"}, UnexposedPorts: []string{"8080"}}, []string{
			"port 443 is not exposed", "port 8080 is exposed, want it not exposed",
		}},
		{"volumes", MetadataTest{Volumes: []string{"/data"}, UnmountedVolumes: []string{"/root"}}, nil},
		{"volumes wrong", MetadataTest{Volumes: []string{"/cache"}, UnmountedVolumes: []string{"/data"}}, []string{
			"volume /cache is not declared", "volume /data is declared, want it not declared",
		}},
	}
	for _, tt := range tests {
		if got := checkMetadata(&tt.m, cfg); !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestMetadataEmpty(t *testing.T) {
	var none *MetadataTest
	if !none.empty() || !(&MetadataTest{}).empty() {
		t.Error("nil or zero metadata test is not empty")
	}
	if (&MetadataTest{Entrypoint: &[]string{}}).empty() || (&MetadataTest{User: "x"}).empty() {
		t.Error("a metadata test that checks something is empty")
	}
}
