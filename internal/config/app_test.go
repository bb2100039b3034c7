package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRuntimeSections(t *testing.T) {
	p, err := Parse([]byte(`apiVersion: plimsoll/v1
kind: Policy
app:
  cmd: [/app, --port, "8080"]
  env: [LOG_LEVEL=debug]
  port: 8080
  readOnlyRoot: true
  tmpfs: [/tmp]
  memory: 512m
  health: {http: /healthz, status: 204, timeout: 10s}
smoke:
  stayUp: 5s
  logPatterns: ["OutOfMemory"]
  binaries: [/app]
  requests:
    - {path: /, expect: "hello"}
    - {method: POST, path: /echo, body: "x", status: 201}
  dependencies: [{name: db, address: "127.0.0.1:5432"}]
harden:
  uid: 1000
  allowShell: true
  signature: {required: true, key: cosign.pub}
  sbom: {required: false}
`))
	if err != nil {
		t.Fatal(err)
	}
	if p.App.Port != 8080 || p.App.Health.Status != 204 || p.App.Health.Timeout != 10*time.Second || p.App.CPUs != 2 {
		t.Errorf("app = %+v", p.App)
	}
	if n, _ := ParseBytes(p.App.Memory); n != 512<<20 {
		t.Errorf("memory = %d", n)
	}
	if len(p.Smoke.Requests) != 2 || p.Smoke.Requests[1].Method != "POST" || p.Smoke.StayUp != 5*time.Second {
		t.Errorf("smoke = %+v", p.Smoke)
	}
	// Defaults the file did not touch stay.
	if p.Harden.UID != 1000 || !p.Harden.ReadOnlyRoot || p.Harden.SBOM.Required || !p.Harden.Signature.Required {
		t.Errorf("harden = %+v", p.Harden)
	}
}

func TestRuntimeSectionProblems(t *testing.T) {
	_, err := Parse([]byte(`apiVersion: plimsoll/v1
kind: Policy
app:
  port: 70000
  env: [NOEQUALS]
  memory: lots
  tmpfs: [tmp]
  health: {http: healthz, status: 42}
smoke:
  logPatterns: ["(unclosed"]
  requests: [{path: nope, expect: "[", status: 1000}]
  dependencies: [{name: db, address: localhost}]
harden:
  uid: 0
  signature: {required: true}
`))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{
		"app.port: 70000 is not a TCP port", `app.env[0]: "NOEQUALS" is not KEY=VALUE`, `app.memory: "lots" is not a size`,
		`app.tmpfs[0]: "tmp" is not an absolute path`, `app.health.http: "healthz": a path starts with /`, "app.health.status: 42",
		"smoke.logPatterns[0]: not a regular expression", `smoke.requests[0].path: "nope"`, "smoke.requests[0].status: 1000",
		"smoke.requests[0].expect: not a regular expression", `smoke.dependencies[0].address: "localhost" is not host:port`,
		"harden.uid: 0: the app must run as a user other than root", "harden.signature: required, but neither a key nor a keyless identity",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing problem %q in:\n%v", want, err)
		}
	}
}

func TestParseBytes(t *testing.T) {
	good := map[string]int64{"": 0, "1048576": 1 << 20, "64k": 64 << 10, "512m": 512 << 20, "1g": 1 << 30, "2GB": 2 << 30}
	for in, want := range good {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"x", "-1m", "1.5g", "g", "99999999999999999999"} {
		if _, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) accepted", in)
		}
	}
}
