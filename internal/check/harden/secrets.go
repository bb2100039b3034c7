package harden

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/plimsoll/plimsoll/internal/check"
)

// secretWords are env name words that mark a secret; secretPairs are two-word ones.
var (
	secretWords = []string{"PASSWORD", "PASSWD", "SECRET", "SECRETS", "TOKEN", "TOKENS", "APIKEY", "CREDENTIAL", "CREDENTIALS", "PRIVATEKEY"}
	secretPairs = [][2]string{{"API", "KEY"}, {"ACCESS", "KEY"}, {"PRIVATE", "KEY"}, {"SIGNING", "KEY"}, {"AUTH", "KEY"}}
	// notSecretSuffixes mark names of references to a secret, not the secret itself.
	notSecretSuffixes = []string{"FILE", "PATH", "DIR", "URL", "ENDPOINT", "TTL", "EXPIRY", "LENGTH"}
)

// secretValues are values that are secrets whatever their name.
var secretValues = []struct {
	why string
	re  *regexp.Regexp
}{
	{"an AWS access key ID", regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`)},
	{"a private key", regexp.MustCompile(`-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----`)},
	{"a GitHub token", regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b`)},
	{"a Slack token", regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`)},
}

// secret is an env variable whose value looks like a secret. Its value is never kept.
type secret struct {
	Name string `json:"name"`
	Why  string `json:"why"`
	// Length is the value's length: enough to tell an empty placeholder from a real value.
	Length int `json:"length"`
}

// secretOf says why the env entry KEY=VALUE looks like a secret, "" when it does not.
func secretOf(kv string) string {
	name, value, _ := strings.Cut(kv, "=")
	for _, v := range secretValues {
		if v.re.MatchString(value) {
			return "the value is " + v.why
		}
	}
	if value == "" || placeholder(value) {
		return ""
	}
	words := strings.FieldsFunc(strings.ToUpper(name), func(r rune) bool {
		return (r < 'A' || r > 'Z') && (r < '0' || r > '9')
	})
	if len(words) == 0 || slices.Contains(notSecretSuffixes, words[len(words)-1]) {
		return ""
	}
	for i, w := range words {
		if slices.Contains(secretWords, w) {
			return "the name holds " + w
		}
		if i > 0 && slices.Contains(secretPairs, [2]string{words[i-1], w}) {
			return "the name holds " + words[i-1] + "_" + w
		}
	}
	return ""
}

// placeholder reports values that cannot be a secret: numbers, booleans, and paths to a file
// that holds the secret.
func placeholder(v string) bool {
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return true
	}
	switch strings.ToLower(v) {
	case "true", "false", "yes", "no", "on", "off":
		return true
	}
	return strings.HasPrefix(v, "/") && !strings.ContainsAny(v, " \t\n")
}

// secretsOf lists the secret-looking env values of an image config.
func secretsOf(cf *v1.ConfigFile) []secret {
	if cf == nil {
		return nil
	}
	var out []secret
	for _, kv := range cf.Config.Env {
		if why := secretOf(kv); why != "" {
			name, value, _ := strings.Cut(kv, "=")
			out = append(out, secret{Name: name, Why: why, Length: len(value)})
		}
	}
	return out
}

// configCheck judges NEW's config for secrets baked into its env, and how its user and
// entrypoint changed from OLD's.
type configCheck struct{}

func (configCheck) Name() string { return "config" }

func (configCheck) Run(_ context.Context, env *check.Env) (check.Result, error) {
	if env.New.Config == nil {
		return check.Result{}, fmt.Errorf("new image %s has no config", env.New.Ref)
	}
	n := secretsOf(env.New.Config)
	r := check.Result{
		Measured: count(len(n), "secret-looking env value"), Baseline: "no OLD image",
		Threshold: "no secret in the env; user and entrypoint unchanged", Source: "image config (env values are never shown)",
		Status: check.StatusPass,
	}
	data := map[string]any{"secrets": n}
	var problems []string
	oldNames := map[string]bool{}
	if env.Old != nil && env.Old.Config != nil {
		o := secretsOf(env.Old.Config)
		r.Baseline = count(len(o), "secret-looking env value")
		for _, s := range o {
			oldNames[s.Name] = true
		}
		changes := configChanges(env.Old.Config.Config, env.New.Config.Config)
		if len(changes) > 0 {
			data["changes"] = changes
			r.Status = check.StatusWarn
			problems = append(problems, strings.Join(changes, "; "))
		}
	}
	r.Data = data
	if len(n) > 0 {
		r.Status = check.StatusWarn
		names := make([]string, len(n))
		t := check.Table{Title: "Secret-looking env values in NEW", Columns: []string{"name", "why", "value", "in OLD"}}
		for i, s := range n {
			names[i] = s.Name
			inOld := "no"
			if env.Old == nil {
				inOld = "no OLD image"
			} else if oldNames[s.Name] {
				inOld = "yes"
			}
			t.Rows = append(t.Rows, []string{s.Name, s.Why, fmt.Sprintf("(redacted, %d chars)", s.Length), inOld})
		}
		r.Tables = []check.Table{t}
		problems = append([]string{fmt.Sprintf("NEW's env holds %s (redacted): %s; pass secrets at run time instead of baking them into the image",
			count(len(n), "secret-looking value"), list(names))}, problems...)
	}
	if len(problems) == 0 {
		r.Message = "no secret-looking env values"
		if env.Old != nil {
			r.Message += "; user and entrypoint unchanged"
		}
		return r, nil
	}
	r.Message = strings.Join(problems, "; ")
	return r, nil
}

// configChanges says how the user and entrypoint changed from OLD to NEW.
func configChanges(o, n v1.Config) []string {
	var out []string
	if o.User != n.User {
		out = append(out, fmt.Sprintf("the user changed from %q to %q", o.User, n.User))
	}
	if !slices.Equal(o.Entrypoint, n.Entrypoint) {
		out = append(out, fmt.Sprintf("the entrypoint changed from %q to %q", o.Entrypoint, n.Entrypoint))
	}
	return out
}
