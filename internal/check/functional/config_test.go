package functional_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/config"
)

// TestPolicy reads the functional section of a policy file: fields, defaults, and every
// problem with its YAML path.
func TestPolicy(t *testing.T) {
	const head = "apiVersion: plimsoll/v1\nkind: Policy\nfunctional:\n"
	p, err := config.Parse([]byte(head + `  command: ["/bin/sh", "-c", "cd /app && npm test -- --json"]
  resultsFile: /app/report.json
  format: jest
  env: [NODE_ENV=test]
  timeout: 2m
  quarantine: ["flaky suite > *"]
  reruns: 2
  thresholds: {go: 98, noGo: 90}
`))
	if err != nil {
		t.Fatal(err)
	}
	f := p.Functional
	if !f.Configured() || f.Command[2] != "cd /app && npm test -- --json" || f.ResultsFile != "/app/report.json" ||
		f.Format != "jest" || f.Env[0] != "NODE_ENV=test" || f.Timeout != 2*time.Minute || f.Reruns != 2 ||
		f.Thresholds != (config.FunctionalThresholds{GO: 98, NoGo: 90}) || f.Quarantine[0] != "flaky suite > *" {
		t.Errorf("parsed %+v", f)
	}

	d := config.Functional{}.WithDefaults()
	if d.Timeout != 10*time.Minute || d.Thresholds != (config.FunctionalThresholds{GO: 99, NoGo: 95}) || d.Configured() {
		t.Errorf("defaults %+v", d)
	}
	if got := (config.Functional{Thresholds: config.FunctionalThresholds{NoGo: 80}}).WithDefaults().Thresholds; got.GO != 99 || got.NoGo != 80 {
		t.Errorf("defaults keep set fields: %+v", got)
	}

	for _, tt := range []struct{ yaml, path, msg string }{
		{"  command: [/t]\n  runner: {command: [./run]}\n", "functional.runner", "not both"},
		{"  command: []\n", "functional.command", "empty"},
		{"  command: [\"\"]\n", "functional.command[0]", "empty program name"},
		{"  runner: {command: []}\n", "functional.runner.command", "empty"},
		{"  runner: {image: \"a b\"}\n", "functional.runner.image", "not an image reference"},
		{"  command: [/t]\n  resultsFile: report.xml\n", "functional.resultsFile", "absolute"},
		{"  command: [/t]\n  resultsFile: /out/\n", "functional.resultsFile", "names a directory"},
		{"  command: [/t]\n  format: xunit\n", "functional.format", "junit, jest"},
		{"  command: [/t]\n  env: [NODE_ENV]\n", "functional.env[0]", "KEY=value"},
		{"  command: [/t]\n  timeout: -1s\n", "functional.timeout", "negative"},
		{"  command: [/t]\n  quarantine: [\" \"]\n", "functional.quarantine[0]", "empty"},
		{"  command: [/t]\n  reruns: 11\n", "functional.reruns", "0..10"},
		{"  command: [/t]\n  thresholds: {go: 101}\n", "functional.thresholds.go", "percentage"},
		{"  command: [/t]\n  thresholds: {noGo: -1}\n", "functional.thresholds.noGo", "percentage"},
		{"  command: [/t]\n  thresholds: {go: 90}\n", "functional.thresholds.noGo", "below GO"},
	} {
		_, err := config.Parse([]byte(head + tt.yaml))
		var ps []string
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				var p *config.Problem
				if errors.As(e, &p) && p.Path == tt.path && strings.Contains(p.Msg, tt.msg) {
					ps = append(ps, p.Path)
				}
			}
		}
		if !errors.Is(err, config.ErrInvalid) || !slices.Contains(ps, tt.path) {
			t.Errorf("%q: got %v, want a problem at %s saying %q", tt.yaml, err, tt.path, tt.msg)
		}
	}

	// A host runner reads its report from a host path, which may be relative.
	if _, err := config.Parse([]byte(head + "  runner: {command: [./e2e]}\n  resultsFile: out/report.xml\n")); err != nil {
		t.Errorf("host runner, relative report: %v", err)
	}
}
