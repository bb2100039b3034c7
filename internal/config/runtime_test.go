package config

import (
	"errors"
	"strings"
	"testing"
)

func TestRuntime(t *testing.T) {
	p, err := Parse([]byte(header + "runtime: {engine: kubernetes, namespace: checks, nodeSelector: {pool: checks}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Runtime.Engine != "kubernetes" || p.Runtime.Namespace != "checks" || p.Runtime.NodeSelector["pool"] != "checks" || p.Runtime.EngineName() != "kubernetes" {
		t.Errorf("runtime = %+v", p.Runtime)
	}
	if e := Default().Runtime.EngineName(); e != "docker" {
		t.Errorf("default engine = %q, want docker", e)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"runtime: {engine: podman}\n", `runtime.engine: "podman": use docker or kubernetes`},
		{"runtime: {namespace: Not_A_Namespace}\n", `runtime.namespace: "Not_A_Namespace": a lowercase RFC 1123 label`},
		{"runtime: {engines: docker}\n", "engines"},
		{"runtime: {nodeSelector: {pool: two words}}\n", "runtime.nodeSelector.pool: a valid label must be"},
	} {
		_, err := Parse([]byte(header + tc.yaml))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want ErrInvalid saying %q", strings.TrimSpace(tc.yaml), err, tc.want)
		}
	}
}

func TestPortEnv(t *testing.T) {
	p, err := Parse([]byte(header + "app: {hostNetwork: true, port: 8080, portEnv: PORT}\n"))
	if err != nil || p.App.PortEnv != "PORT" {
		t.Fatalf("portEnv: %v, %+v", err, p.App)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"app: {port: 8080, portEnv: PORT}\n", "app.portEnv: needs app.hostNetwork: true"},
		{"app: {hostNetwork: true, portEnv: 2PORT}\n", `app.portEnv: "2PORT" is not an environment variable name`},
	} {
		_, err := Parse([]byte(header + tc.yaml))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want ErrInvalid saying %q", strings.TrimSpace(tc.yaml), err, tc.want)
		}
	}
}
