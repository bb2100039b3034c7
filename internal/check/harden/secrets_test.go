package harden

import (
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/image"
)

func TestSecretOf(t *testing.T) {
	tests := []struct {
		kv, want string
	}{
		{"DB_PASSWORD=hunter2", "the name holds PASSWORD"},
		{"db_passwd=hunter2", "the name holds PASSWD"},
		{"GITHUB_TOKEN=abc", "the name holds TOKEN"},
		{"STRIPE_API_KEY=sk_live_x", "the name holds API_KEY"},
		{"OPENAI_APIKEY=x", "the name holds APIKEY"},
		{"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI", "the name holds SECRET"},
		{"JWT_SIGNING_KEY=x", "the name holds SIGNING_KEY"},
		{"CONFIG=AKIAIOSFODNN7EXAMPLE", "the value is an AWS access key ID"},
		{"TLS=-----BEGIN RSA PRIVATE KEY-----\nMIIE", "the value is a private key"},
		{"K=-----BEGIN PRIVATE KEY-----", "the value is a private key"},
		{"CI_HELPER=ghp_" + strings.Repeat("a", 36), "the value is a GitHub token"},
		{"HOOK=xoxb-1234567890-abc", "the value is a Slack token"},
		{"DB_PASSWORD_FILE=/run/secrets/db", ""},
		{"DB_PASSWORD=/run/secrets/db", ""},
		{"TOKEN_URL=https://auth.example/token", ""},
		{"TOKEN_TTL=3600", ""},
		{"REQUIRE_TOKEN=true", ""},
		{"PASSWORD=", ""},
		{"TOKENIZERS_PARALLELISM=false", ""},
		{"GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D", ""},
		{"PATH=/usr/local/bin:/usr/bin", ""},
		{"KEYBOARD=us", ""},
		{"PASSPHRASE_HINT=the dog", ""},
		{"NOEQUALS", ""},
	}
	for _, tt := range tests {
		if got := secretOf(tt.kv); got != tt.want {
			t.Errorf("secretOf(%q) = %q, want %q", tt.kv, got, tt.want)
		}
	}
}

// TestConfigCheckNeverPrintsValues: whatever the check reports, in any field or in its data,
// holds no secret value.
func TestConfigCheckNeverPrintsValues(t *testing.T) {
	secrets := []string{"hunter2-very-secret", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY", "MIIEvQIBADANBg"}
	cfg := func(user string, entrypoint []string, env ...string) *image.Image {
		return &image.Image{Ref: "x", Config: &v1.ConfigFile{Config: v1.Config{User: user, Entrypoint: entrypoint, Env: env}}}
	}
	n := cfg("65532", []string{"/app"},
		"PATH=/bin", "DB_PASSWORD="+secrets[0], "CONFIG="+secrets[1], "AWS_SECRET_ACCESS_KEY="+secrets[2],
		"TLS_KEY=-----BEGIN EC PRIVATE KEY-----\n"+secrets[3])
	o := cfg("0", []string{"/old"}, "DB_PASSWORD="+secrets[0])
	for _, old := range []*image.Image{nil, o} {
		r := run(t, configCheck{}, old, n)
		if r.Status != check.StatusWarn {
			t.Errorf("status = %s, want warn: %s", r.Status, r.Message)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Fatalf("the result shows the secret %q: %s", s, b)
			}
		}
		for _, name := range []string{"DB_PASSWORD", "CONFIG", "AWS_SECRET_ACCESS_KEY", "TLS_KEY"} {
			if !strings.Contains(r.Message, name) && !strings.Contains(r.Message, "…") {
				t.Errorf("message %q does not name %s", r.Message, name)
			}
		}
		if old != nil && (!strings.Contains(r.Message, `user changed from "0" to "65532"`) || !strings.Contains(r.Message, "entrypoint changed")) {
			t.Errorf("message %q does not report the user and entrypoint changes", r.Message)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	cfg := func(user string, entrypoint ...string) *image.Image {
		return &image.Image{Ref: "x", Config: &v1.ConfigFile{Config: v1.Config{User: user, Entrypoint: entrypoint, Env: []string{"PATH=/bin"}}}}
	}
	tests := []struct {
		name     string
		old, new *image.Image
		want     check.Status
		msg      string
	}{
		{name: "first deployment, clean", new: cfg("65532", "/app"), want: check.StatusPass, msg: "no secret-looking env values"},
		{name: "unchanged", old: cfg("65532", "/app"), new: cfg("65532", "/app"), want: check.StatusPass, msg: "user and entrypoint unchanged"},
		{name: "user changed", old: cfg("65532", "/app"), new: cfg("1000", "/app"), want: check.StatusWarn, msg: `the user changed from "65532" to "1000"`},
		{name: "entrypoint changed", old: cfg("65532", "/app"), new: cfg("65532", "/app", "--debug"), want: check.StatusWarn, msg: "the entrypoint changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, configCheck{}, tt.old, tt.new)
			if r.Status != tt.want || !strings.Contains(r.Message, tt.msg) {
				t.Errorf("got %s %q, want %s %q", r.Status, r.Message, tt.want, tt.msg)
			}
		})
	}
}
