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

// TestSignatureVerify: signatures are verified unless the policy says, in so many words, that
// they are not used; and it cannot say both.
func TestSignatureVerify(t *testing.T) {
	if !Default().Harden.Signature.Verifies() {
		t.Error("the default policy does not verify signatures")
	}
	base := "apiVersion: plimsoll/v1\nkind: Policy\nharden:\n  signature: "
	for _, tc := range []struct {
		sig     string
		verify  bool
		problem string
	}{
		{sig: "{key: cosign.pub}", verify: true},
		{sig: "{verify: true, key: cosign.pub}", verify: true},
		{sig: "{verify: false}", verify: false},
		{sig: "{verify: false, key: cosign.pub}", problem: "harden.signature.verify: false, but a key, an identity or required is given"},
		{sig: "{verify: false, required: true}", problem: "harden.signature.verify: false, but a key"},
	} {
		p, err := Parse([]byte(base + tc.sig + "\n"))
		if tc.problem != "" {
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.problem) {
				t.Errorf("%s: err = %v, want %q", tc.sig, err, tc.problem)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.sig, err)
		}
		if got := p.Harden.Signature.Verifies(); got != tc.verify {
			t.Errorf("%s: Verifies() = %v, want %v", tc.sig, got, tc.verify)
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

func TestSidecar(t *testing.T) {
	p, err := Parse([]byte(header + `app: {hostNetwork: true, port: 8080}
smoke:
  dependencies:
    - name: db
      sidecar: {image: "postgres:16-alpine", command: [postgres, -p, "5433"], env: [POSTGRES_PASSWORD=x], port: 5433}
    - {name: cache, address: "localhost:6379", sidecar: {image: redis, port: 6379, ready: 5s}}
    - {name: api, address: "10.0.0.1:443"}
`))
	if err != nil {
		t.Fatal(err)
	}
	deps := p.Smoke.Dependencies
	if len(deps) != 3 || deps[0].Sidecar.Image != "postgres:16-alpine" || len(deps[0].Sidecar.Command) != 3 || deps[0].Sidecar.Port != 5433 {
		t.Fatalf("dependencies = %+v", deps)
	}
	for _, tc := range []struct {
		d           Dependency
		addr        string
		ready       time.Duration
		sidecarRuns bool
	}{
		{deps[0], "127.0.0.1:5433", DefaultSidecarReady, true},
		{deps[1], "localhost:6379", 5 * time.Second, true},
		{deps[2], "10.0.0.1:443", 0, false},
	} {
		got := tc.d.WithDefaults()
		if got.Address != tc.addr || got.Sidecar.Ready != tc.ready || got.Sidecar.IsSet() != tc.sidecarRuns {
			t.Errorf("%s: WithDefaults = address %q ready %s set %v; want %q %s %v", tc.d.Name, got.Address, got.Sidecar.Ready, got.Sidecar.IsSet(), tc.addr, tc.ready, tc.sidecarRuns)
		}
	}
	if deps[0].Address != "" {
		t.Errorf("WithDefaults changed the policy: %q", deps[0].Address)
	}
}

func TestSidecarProblems(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // each must be a problem; none when empty
	}{
		{"needs the host network", `smoke: {dependencies: [{sidecar: {image: redis, port: 6379}}]}`,
			[]string{"smoke.dependencies[0].sidecar: needs app.hostNetwork: true: a sidecar runs on the host's network and the app reaches it on 127.0.0.1"}},
		{"image and port required", `app: {hostNetwork: true}
smoke: {dependencies: [{sidecar: {ready: 1s}}]}`,
			[]string{"smoke.dependencies[0].sidecar.image: missing: a sidecar needs the image it runs", "smoke.dependencies[0].sidecar.port: 0 is not a TCP port: a sidecar needs the port it listens on (1-65535)"}},
		{"bad reference, port, ready and env", `app: {hostNetwork: true}
smoke: {dependencies: [{sidecar: {image: "Not A/Ref", port: 70000, ready: -1s, env: [NOEQUALS]}}]}`,
			[]string{`smoke.dependencies[0].sidecar.image: "Not A/Ref" is not an image reference`, "smoke.dependencies[0].sidecar.port: 70000 is not a TCP port",
				"smoke.dependencies[0].sidecar.ready: negative", `smoke.dependencies[0].sidecar.env[0]: "NOEQUALS" is not KEY=VALUE`}},
		{"an address elsewhere", `app: {hostNetwork: true}
smoke: {dependencies: [{address: "db.internal:5432", sidecar: {image: postgres, port: 5432}}, {address: "127.0.0.1:1", sidecar: {image: redis, port: 6379}}]}`,
			[]string{`smoke.dependencies[0].address: "db.internal:5432": the app reaches its sidecar on 127.0.0.1:5432 (leave address out)`,
				`smoke.dependencies[1].address: "127.0.0.1:1": the app reaches its sidecar on 127.0.0.1:6379`}},
		{"one port twice, and the app's", `app: {hostNetwork: true, port: 8080}
smoke: {dependencies: [{sidecar: {image: a, port: 9000}}, {sidecar: {image: b, port: 9000}}, {sidecar: {image: c, port: 8080}}]}`,
			[]string{"smoke.dependencies[1].sidecar.port: 9000 is also the port of dependencies[0]", "smoke.dependencies[2].sidecar.port: 8080 is app.port"}},
		{"unknown sidecar field", `app: {hostNetwork: true}
smoke: {dependencies: [{sidecar: {image: a, port: 1, cmd: [x]}}]}`,
			[]string{"smoke.dependencies[0].sidecar.cmd: unknown field: use image, command, env, port, ready"}},
		{"valid: loopback address, image by digest", `app: {hostNetwork: true}
smoke: {dependencies: [{address: "[::1]:5432", sidecar: {image: "postgres@sha256:0000000000000000000000000000000000000000000000000000000000000000", port: 5432}}]}`, nil},
		{"valid: no sidecar, no host network", `smoke: {dependencies: [{address: "127.0.0.1:5432"}]}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(header + tc.yaml + "\n"))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("missing problem %q in:\n%v", w, err)
				}
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%v", n, len(tc.want), err)
			}
		})
	}
}

// FuzzSidecar parses policies with sidecars: a bad one is ErrInvalid, never a panic, and a
// valid one has what a smoke session needs of each sidecar after WithDefaults.
func FuzzSidecar(f *testing.F) {
	f.Add([]byte(header + "app: {hostNetwork: true}\nsmoke: {dependencies: [{name: db, sidecar: {image: postgres, port: 5432}}]}\n"))
	f.Add([]byte(header + "app: {hostNetwork: true, port: 1}\nsmoke: {dependencies: [{address: \"[::1]:1\", sidecar: {image: a, port: 1, ready: 1s}}]}\n"))
	f.Add([]byte(header + "smoke: {dependencies: [{sidecar: {image: \"x@sha256:zz\", port: -1, env: [\"=\"]}}]}\n"))
	f.Add([]byte(header + "app: {hostNetwork: true}\nsmoke: {dependencies: [{sidecar: {}}, {sidecar: {command: [], port: 0x10}}]}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error without ErrInvalid: %v", err)
			}
			return
		}
		for i, d := range p.Smoke.Dependencies {
			if !d.Sidecar.IsSet() {
				continue
			}
			d = d.WithDefaults()
			if !p.App.HostNetwork || d.Sidecar.Image == "" || d.Sidecar.Port < 1 || d.Sidecar.Port > 65535 || d.Sidecar.Ready <= 0 || d.Address == "" {
				t.Fatalf("valid policy, dependency %d not ready to run: %+v (hostNetwork %v)", i, d, p.App.HostNetwork)
			}
		}
	})
}
