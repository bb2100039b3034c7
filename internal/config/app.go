package config

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// App says how to run the application in either image. Layers 2 to 6 start OLD and NEW the
// same way, from this one description.
type App struct {
	// Entrypoint and Cmd replace the image's own when set.
	Entrypoint []string `yaml:"entrypoint"`
	Cmd        []string `yaml:"cmd"`
	// Env are KEY=VALUE pairs added to the image's environment.
	Env []string `yaml:"env"`
	// User replaces the image's user when set ("65532", "app:app").
	User string `yaml:"user"`
	// Port is the TCP port the app listens on inside the container; 0 means the image's first
	// exposed TCP port.
	Port int `yaml:"port"`
	// HostNetwork runs the app in the host's network namespace instead of publishing its port
	// on 127.0.0.1. The app must then listen on 127.0.0.1:Port.
	HostNetwork bool `yaml:"hostNetwork"`
	// PortEnv names the environment variable the app reads its port from ("PORT"). On the host
	// network, where OLD and NEW running at once (Layers 4 and 6) cannot both listen on Port,
	// each instance then gets a free port of its own through it.
	PortEnv string `yaml:"portEnv"`
	// ReadOnlyRoot runs the app with a read-only root filesystem in every layer; Tmpfs lists the
	// writable paths it gets then.
	ReadOnlyRoot bool     `yaml:"readOnlyRoot"`
	Tmpfs        []string `yaml:"tmpfs"`
	// CPUs and Memory limit each container ("1g", "512m"); the seed runs with --cpus=2 --memory=1g.
	CPUs   float64 `yaml:"cpus"`
	Memory string  `yaml:"memory"`
	// Health says when the app is up.
	Health Health `yaml:"health"`
	// EngineTimeout is how long one call to the container engine (create, inspect, stop,
	// remove, list…) may wait for its answer before it fails as hung (0: the default, 60s), so that an
	// engine that stops answering ends the run long before its time budget does.
	EngineTimeout time.Duration `yaml:"engineTimeout"`
}

// Health is how to tell the app is up. With nothing set, the image's own HEALTHCHECK is used if
// it has one, else a TCP connect to the port, else "the container is running".
type Health struct {
	// HTTP is a path to GET ("/healthz"); Status is the status it must answer (default 200).
	HTTP   string `yaml:"http"`
	Status int    `yaml:"status"`
	// TCP is true to accept a TCP connect to the port as healthy.
	TCP bool `yaml:"tcp"`
	// Exec is a command run in the container; exit 0 is healthy.
	Exec []string `yaml:"exec"`
	// Image is true to wait for the image's own HEALTHCHECK.
	Image bool `yaml:"image"`
	// Timeout bounds the wait for health (default 30s); Interval is the time between probes.
	Timeout  time.Duration `yaml:"timeout"`
	Interval time.Duration `yaml:"interval"`
}

// Smoke tunes Layer 2.
type Smoke struct {
	// StayUp is how long the app must keep running after it is healthy (default 2s).
	StayUp time.Duration `yaml:"stayUp"`
	// LogPatterns are regular expressions that mark a fatal startup log line, beside the
	// built-in ones (segfault, core dumped, panic, missing shared libraries, fatal).
	LogPatterns []string `yaml:"logPatterns"`
	// Binaries must exist in the image and be executable (read from the image, so shell-less
	// images work).
	Binaries []string `yaml:"binaries"`
	// Requests are real requests to the app; each must answer as said.
	Requests []Request `yaml:"requests"`
	// Dependencies are services that must be reachable from the app's network.
	Dependencies []Dependency `yaml:"dependencies"`
	// StructureTests are container-structure-test files (schemaVersion 2.0.0), run unchanged;
	// relative paths are read from the policy file's folder.
	StructureTests []string `yaml:"structureTests"`
}

// Request is one real request to the app and what it must answer.
type Request struct {
	Method  string            `yaml:"method"` // default GET
	Path    string            `yaml:"path"`
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`
	// Status is the status to expect (default 200); Expect is a regular expression the body must match.
	Status int    `yaml:"status"`
	Expect string `yaml:"expect"`
}

// Dependency is a service the app needs: a host:port it must reach, or a sidecar container
// that Layer 2 starts for the app to reach on the host's loopback.
type Dependency struct {
	Name string `yaml:"name"`
	// Address is host:port; with a sidecar it defaults to 127.0.0.1:Sidecar.Port (WithDefaults).
	Address string `yaml:"address"`
	// Sidecar, when set, is a container Layer 2 starts once, before the app, and stops after.
	Sidecar Sidecar `yaml:"sidecar"`
}

// DefaultSidecarReady is how long a sidecar may take to accept connections when the policy
// does not say.
const DefaultSidecarReady = 30 * time.Second

// Sidecar is a service container Layer 2 runs beside the app, on the host's network, so the
// app (which must use app.hostNetwork too) reaches it on 127.0.0.1:Port.
type Sidecar struct {
	// Image is a reference the container engine already holds (plimsoll never pulls it).
	Image string `yaml:"image"`
	// Command replaces the image's CMD when set; Env is added to the image's environment.
	Command []string `yaml:"command"`
	Env     []string `yaml:"env"`
	// Port is the TCP port the sidecar listens on, on the host's loopback.
	Port int `yaml:"port"`
	// Ready bounds the wait for 127.0.0.1:Port to accept a connection (default 30s).
	Ready time.Duration `yaml:"ready"`
}

// IsSet reports whether the policy describes a sidecar (any of its fields is set).
func (s Sidecar) IsSet() bool {
	return s.Image != "" || len(s.Command) > 0 || len(s.Env) > 0 || s.Port != 0 || s.Ready != 0
}

// WithDefaults returns d with a sidecar's defaults filled in: the address 127.0.0.1:Port and
// the ready time DefaultSidecarReady.
func (d Dependency) WithDefaults() Dependency {
	if !d.Sidecar.IsSet() {
		return d
	}
	if d.Address == "" && d.Sidecar.Port > 0 && d.Sidecar.Port <= 65535 {
		d.Address = net.JoinHostPort("127.0.0.1", strconv.Itoa(d.Sidecar.Port))
	}
	if d.Sidecar.Ready == 0 {
		d.Sidecar.Ready = DefaultSidecarReady
	}
	return d
}

// Harden tunes Layer 5.
type Harden struct {
	// UID is the user the app must run as (default 65532); 0 is never accepted.
	UID int `yaml:"uid"`
	// AllowShell lets the image carry a shell (reported as a warning instead of NO-GO).
	AllowShell bool `yaml:"allowShell"`
	// ReadOnlyRoot checks that the app starts and is healthy with a read-only root filesystem
	// (default true), with only the Tmpfs paths writable.
	ReadOnlyRoot bool     `yaml:"readOnlyRoot"`
	Tmpfs        []string `yaml:"tmpfs"`
	// Signature says how the new image's signature is verified.
	Signature Signature `yaml:"signature"`
	// SBOM says whether an SBOM attestation or referrer must be attached (default true).
	SBOM SBOMRule `yaml:"sbom"`
}

// Signature is how to verify an image signature: with a public key, or keyless with the
// signing certificate's identity and OIDC issuer.
type Signature struct {
	// Verify false says that this team does not sign its images: Layer 5 then reports the
	// signature as not checked, by the policy's choice. Unset (the default) or true, the
	// signature is verified, and with no Key or Identity to verify it with it is CAUTION:
	// an unverified signature is never a pass.
	Verify *bool `yaml:"verify"`
	// Required makes a missing or bad signature NO-GO instead of CAUTION.
	Required bool `yaml:"required"`
	// Key is a PEM public key file.
	Key string `yaml:"key"`
	// Identity is a regular expression for the certificate identity; Issuer the OIDC issuer.
	Identity string `yaml:"identity"`
	Issuer   string `yaml:"issuer"`
}

// Verifies reports whether signatures are to be verified: unless Verify is set to false.
func (s Signature) Verifies() bool { return s.Verify == nil || *s.Verify }

// SBOMRule says whether an SBOM must be attached to the image.
type SBOMRule struct {
	Required bool `yaml:"required"`
}

// envName is what an environment variable's name may be.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (a App) problems(path string) []*Problem {
	var ps []*Problem
	if a.Port < 0 || a.Port > 65535 {
		ps = append(ps, &Problem{Path: path + ".port", Msg: fmt.Sprintf("%d is not a TCP port", a.Port)})
	}
	if a.CPUs < 0 {
		ps = append(ps, &Problem{Path: path + ".cpus", Msg: "negative"})
	}
	switch {
	case a.PortEnv != "" && !envName.MatchString(a.PortEnv):
		ps = append(ps, &Problem{Path: path + ".portEnv", Msg: fmt.Sprintf("%q is not an environment variable name", a.PortEnv)})
	case a.PortEnv != "" && !a.HostNetwork:
		ps = append(ps, &Problem{Path: path + ".portEnv", Msg: "needs app.hostNetwork: true: off the host network every instance has its own port already"})
	}
	if a.EngineTimeout < 0 || a.EngineTimeout > 0 && a.EngineTimeout < time.Second {
		ps = append(ps, &Problem{Path: path + ".engineTimeout", Msg: fmt.Sprintf("%s: at least 1s", a.EngineTimeout)})
	}
	if _, err := ParseBytes(a.Memory); err != nil {
		ps = append(ps, &Problem{Path: path + ".memory", Msg: err.Error()})
	}
	for i, kv := range a.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			ps = append(ps, &Problem{Path: fmt.Sprintf("%s.env[%d]", path, i), Msg: fmt.Sprintf("%q is not KEY=VALUE", kv)})
		}
	}
	ps = append(ps, paths(a.Tmpfs, path+".tmpfs")...)
	h, at := a.Health, path+".health"
	if h.HTTP != "" && !strings.HasPrefix(h.HTTP, "/") {
		ps = append(ps, &Problem{Path: at + ".http", Msg: fmt.Sprintf("%q: a path starts with /", h.HTTP)})
	}
	if h.Status != 0 && (h.Status < 100 || h.Status > 599) {
		ps = append(ps, &Problem{Path: at + ".status", Msg: fmt.Sprintf("%d is not an HTTP status", h.Status)})
	}
	if h.Timeout < 0 || h.Interval < 0 {
		ps = append(ps, &Problem{Path: at, Msg: "negative timeout or interval"})
	}
	return ps
}

func (s Smoke) problems(path string) []*Problem {
	var ps []*Problem
	if s.StayUp < 0 {
		ps = append(ps, &Problem{Path: path + ".stayUp", Msg: "negative"})
	}
	for i, p := range s.LogPatterns {
		if _, err := regexp.Compile(p); err != nil {
			ps = append(ps, &Problem{Path: fmt.Sprintf("%s.logPatterns[%d]", path, i), Msg: "not a regular expression: " + err.Error()})
		}
	}
	ps = append(ps, paths(s.Binaries, path+".binaries")...)
	for i, r := range s.Requests {
		at := fmt.Sprintf("%s.requests[%d]", path, i)
		if !strings.HasPrefix(r.Path, "/") {
			ps = append(ps, &Problem{Path: at + ".path", Msg: fmt.Sprintf("%q: a path starts with /", r.Path)})
		}
		if r.Status != 0 && (r.Status < 100 || r.Status > 599) {
			ps = append(ps, &Problem{Path: at + ".status", Msg: fmt.Sprintf("%d is not an HTTP status", r.Status)})
		}
		if _, err := regexp.Compile(r.Expect); err != nil {
			ps = append(ps, &Problem{Path: at + ".expect", Msg: "not a regular expression: " + err.Error()})
		}
	}
	for i, d := range s.Dependencies {
		ps = append(ps, d.problems(fmt.Sprintf("%s.dependencies[%d]", path, i))...)
	}
	return append(ps, names(s.StructureTests, path+".structureTests", "file name")...)
}

func (d Dependency) problems(path string) []*Problem {
	if !d.Sidecar.IsSet() {
		if _, port, err := net.SplitHostPort(d.Address); err != nil || port == "" {
			return []*Problem{{Path: path + ".address", Msg: fmt.Sprintf("%q is not host:port", d.Address)}}
		}
		return nil
	}
	var ps []*Problem
	sc, at := d.Sidecar, path+".sidecar"
	if sc.Image == "" {
		ps = append(ps, &Problem{Path: at + ".image", Msg: "missing: a sidecar needs the image it runs"})
	} else if _, err := name.ParseReference(sc.Image); err != nil {
		ps = append(ps, &Problem{Path: at + ".image", Msg: fmt.Sprintf("%q is not an image reference: %v", sc.Image, err)})
	}
	if sc.Port < 1 || sc.Port > 65535 {
		ps = append(ps, &Problem{Path: at + ".port", Msg: fmt.Sprintf("%d is not a TCP port: a sidecar needs the port it listens on (1-65535)", sc.Port)})
	}
	if sc.Ready < 0 {
		ps = append(ps, &Problem{Path: at + ".ready", Msg: "negative"})
	}
	for i, kv := range sc.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			ps = append(ps, &Problem{Path: fmt.Sprintf("%s.env[%d]", at, i), Msg: fmt.Sprintf("%q is not KEY=VALUE", kv)})
		}
	}
	if d.Address != "" && sc.Port >= 1 && sc.Port <= 65535 {
		host, port, err := net.SplitHostPort(d.Address)
		ip := net.ParseIP(host)
		if err != nil || port != strconv.Itoa(sc.Port) || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			ps = append(ps, &Problem{Path: path + ".address", Msg: fmt.Sprintf("%q: the app reaches its sidecar on 127.0.0.1:%d (leave address out)", d.Address, sc.Port)})
		}
	}
	return ps
}

// sidecarProblems checks the sidecars of s against the app: the app must share the host's
// network to reach them on loopback, and no two of them, nor the app, may claim one port.
func sidecarProblems(a App, s Smoke, path string) []*Problem {
	var ps []*Problem
	ports := map[int]int{}
	for i, d := range s.Dependencies {
		if !d.Sidecar.IsSet() {
			continue
		}
		at := fmt.Sprintf("%s.dependencies[%d].sidecar", path, i)
		if !a.HostNetwork {
			ps = append(ps, &Problem{Path: at, Msg: "needs app.hostNetwork: true: a sidecar runs on the host's network and the app reaches it on 127.0.0.1, which it can only do on the host's network too"})
		}
		p := d.Sidecar.Port
		if p < 1 || p > 65535 {
			continue
		}
		if j, ok := ports[p]; ok {
			ps = append(ps, &Problem{Path: at + ".port", Msg: fmt.Sprintf("%d is also the port of dependencies[%d]: two sidecars cannot listen on one host port", p, j)})
		} else if p == a.Port && a.HostNetwork {
			ps = append(ps, &Problem{Path: at + ".port", Msg: fmt.Sprintf("%d is app.port: the sidecar and the app would both listen on it on the host's network", p)})
		}
		ports[p] = i
	}
	return ps
}

func (h Harden) problems(path string) []*Problem {
	var ps []*Problem
	if h.UID <= 0 {
		ps = append(ps, &Problem{Path: path + ".uid", Msg: fmt.Sprintf("%d: the app must run as a user other than root", h.UID)})
	}
	ps = append(ps, paths(h.Tmpfs, path+".tmpfs")...)
	if h.Signature.Identity != "" {
		if _, err := regexp.Compile(h.Signature.Identity); err != nil {
			ps = append(ps, &Problem{Path: path + ".signature.identity", Msg: "not a regular expression: " + err.Error()})
		}
		if h.Signature.Issuer == "" {
			ps = append(ps, &Problem{Path: path + ".signature.issuer", Msg: "keyless verification needs the OIDC issuer with the identity"})
		}
	}
	if h.Signature.Key != "" && h.Signature.Identity != "" {
		ps = append(ps, &Problem{Path: path + ".signature", Msg: "give a key or a keyless identity, not both"})
	}
	if !h.Signature.Verifies() && (h.Signature.Required || h.Signature.Key != "" || h.Signature.Identity != "") {
		ps = append(ps, &Problem{Path: path + ".signature.verify", Msg: "false, but a key, an identity or required is given: say one or the other"})
	} else if h.Signature.Required && h.Signature.Key == "" && h.Signature.Identity == "" {
		ps = append(ps, &Problem{Path: path + ".signature", Msg: "required, but neither a key nor a keyless identity is given"})
	}
	return ps
}

// paths checks a list of absolute container paths.
func paths(list []string, path string) []*Problem {
	var ps []*Problem
	for i, p := range list {
		if !strings.HasPrefix(p, "/") {
			ps = append(ps, &Problem{Path: fmt.Sprintf("%s[%d]", path, i), Msg: fmt.Sprintf("%q is not an absolute path", p)})
		}
	}
	return ps
}

// ParseBytes reads a size such as "1g", "512m", "64k" or "1048576" ("" is 0).
func ParseBytes(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "b")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult, t = 1<<10, t[:n-1]
		case 'm':
			mult, t = 1<<20, t[:n-1]
		case 'g':
			mult, t = 1<<30, t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size such as 512m or 1g", s)
	}
	return v * mult, nil
}
