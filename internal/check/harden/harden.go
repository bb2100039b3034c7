// Package harden is the part of Layer 5 that needs no running container: it reads both images
// and what is attached to them and judges how hardened NEW is against the policy's harden
// section.
//
//   - user: NEW runs as a user other than root (the policy's app.user, else the image's, resolved
//     through the image's /etc/passwd and /etc/group as the runtime would); root is NO-GO,
//     another UID than harden.uid is CAUTION.
//   - shell: no shell in NEW (sh, bash, ash, dash, zsh, ksh, csh, fish in the bin directories,
//     links followed; busybox and its applet links). A shell is NO-GO, CAUTION when
//     harden.allowShell.
//   - files: setuid and setgid files (NO-GO when NEW adds one, CAUTION for those OLD has too),
//     world-writable files and directories outside /tmp and /var/tmp other than sticky
//     directories, and files with capabilities (CAUTION).
//   - config: env values that look like secrets, never printed (CAUTION); a user or entrypoint
//     changed between OLD and NEW (CAUTION).
//   - signature: NEW's cosign signature verifies with the policy's key or keyless identity (see
//     package sign). A failure is CAUTION, NO-GO when harden.signature.required; with no key
//     or identity to verify with it is CAUTION too ("not verified"), and it is skipped only when
//     the policy says signatures are not used (harden.signature.verify: false).
//   - sbom: an SBOM is attached to NEW (see sign.FindSBOMs); none is NO-GO when
//     harden.sbom.required (the default), CAUTION otherwise.
//
// Every result measures NEW and gives OLD's value as the baseline; with no OLD (a first
// deployment) NEW is judged alone. The read-only-root check, which runs the app, lives in package
// readonly.
package harden

import (
	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/sign"
)

// Option tunes New.
type Option func(*settings)

type settings struct {
	app    config.App
	attach []sign.Option
}

// WithApp gives the policy's app section: its user, when set, is the one the app runs as.
func WithApp(a config.App) Option { return func(s *settings) { s.app = a } }

// WithAttachments sets how SBOMs are read from registries (credentials, plain http, a logger).
func WithAttachments(opts ...sign.Option) Option {
	return func(s *settings) { s.attach = append(s.attach, opts...) }
}

// New returns the checks: user, shell, files, config, signature and sbom. verifier is nil when
// the policy configures no key or identity; the signature check then warns it verified nothing. The
// user, shell and files checks share one walk of each image's filesystem.
func New(h config.Harden, verifier *sign.Verifier, opts ...Option) []check.Check {
	var s settings
	for _, o := range opts {
		o(&s)
	}
	sc := newScans()
	return []check.Check{
		&userCheck{h: h, app: s.app, scans: sc},
		&shellCheck{h: h, scans: sc},
		&filesCheck{scans: sc},
		configCheck{},
		&signatureCheck{h: h, v: verifier},
		&sbomCheck{h: h, opts: s.attach},
	}
}
