package cst

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestCheckCommand(t *testing.T) {
	apt := CommandTest{
		ExpectedError: []string{`.*Invalid operation dslkfjasl.*`},
		ExcludedError: []string{`.*FAIL.*`},
		ExitCode:      100,
	}
	tests := []struct {
		name string
		ct   CommandTest
		out  commandOutput
		want []string // problems, in order; nil = pass
	}{
		{"pass", CommandTest{ExpectedOutput: []string{"Usage"}}, commandOutput{stdout: "Usage: apt-get"}, nil},
		{"exit code defaults to 0", CommandTest{}, commandOutput{exitCode: 1}, []string{"exit code 1, want 0"}},
		{"expected exit code", apt, commandOutput{stderr: "E: Invalid operation dslkfjasl\n", exitCode: 100}, nil},
		{"stderr expectations read stderr only", apt, commandOutput{stdout: "E: Invalid operation dslkfjasl\n", stderr: "FAIL\n", exitCode: 100}, []string{
			`expected ".*Invalid operation dslkfjasl.*" not found in stderr "FAIL\n"`,
			`excluded ".*FAIL.*" found in stderr: "FAIL"`,
		}},
		{"stdout expectations read stdout only", CommandTest{ExpectedOutput: []string{"hello"}, ExcludedOutput: []string{"bye"}}, commandOutput{stdout: "bye", stderr: "hello"}, []string{
			`expected "hello" not found in stdout "bye"`,
			`excluded "bye" found in stdout: "bye"`,
		}},
		{"every expected regex must match", CommandTest{ExpectedOutput: []string{"User: nonroot", "Uid: 1002"}}, commandOutput{stdout: "User: nonroot\nUid: 65532\n"}, []string{
			`expected "Uid: 1002" not found in stdout "User: nonroot\nUid: 65532\n"`,
		}},
		{"merged output", CommandTest{ExpectedError: []string{"openjdk"}, ExcludedOutput: []string{"error"}}, commandOutput{stdout: "openjdk 21\n", stderr: "openjdk 21\n", merged: true}, nil},
		{"merged output names both streams", CommandTest{ExpectedError: []string{"x"}}, commandOutput{stdout: "y", stderr: "y", merged: true}, []string{
			`expected "x" not found in output (stdout and stderr together) "y"`,
		}},
		{"invalid regex fails as in CST", CommandTest{ExpectedOutput: []string{"("}, ExcludedOutput: []string{"["}}, commandOutput{}, []string{
			"invalid regular expression \"(\": error parsing regexp: missing closing ): `(`",
			"invalid regular expression \"[\": error parsing regexp: missing closing ]: `[`",
		}},
		{"everything wrong", CommandTest{ExpectedOutput: []string{"a"}, ExpectedError: []string{"b"}, ExitCode: 3}, commandOutput{exitCode: 0}, []string{
			`expected "a" not found in stdout ""`, `expected "b" not found in stderr ""`, "exit code 0, want 3",
		}},
	}
	for _, tt := range tests {
		got := checkCommand(tt.ct, tt.out)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestSnippet(t *testing.T) {
	long := strings.Repeat("a", 400)
	if got := snippet(long); !strings.HasSuffix(got, "… (400 bytes)") || len(got) > 320 {
		t.Errorf("snippet of 400 bytes = %q", got)
	}
	if got := snippet("x\ny"); got != `"x\ny"` {
		t.Errorf("snippet = %s", got)
	}
}

func TestExpand(t *testing.T) {
	env := map[string]string{"PATH": "/usr/bin:/bin", "HOME": "/root"}
	got := expand([]string{"sh", "-c", "echo $PATH", "${HOME}/x", "$UNSET-y", "no vars", "$$"}, env)
	want := []string{"sh", "-c", "echo /usr/bin:/bin", "/root/x", "-y", "no vars", ""}
	if !slices.Equal(got, want) {
		t.Errorf("expand = %q, want %q", got, want)
	}
}

// TestSetupScript runs the setup wrapper with the host's /bin/sh: setup output is discarded,
// the command's arguments arrive untouched, and a failing setup command is named.
func TestSetupScript(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on this host")
	}
	c := &commander{marker: newMarker()}
	run := func(setup [][]string, argv ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(sh, append([]string{"-c", c.setupScript(setup), "sh"}, argv...)...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		code := 0
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), code
	}
	dir := t.TempDir()
	out, errOut, code := run([][]string{{"echo", "noise"}, {"touch", dir + "/it's here"}}, "ls", dir)
	if out != "it's here\n" || errOut != "" || code != 0 {
		t.Errorf("setup then command: %q %q %d", out, errOut, code)
	}
	out, errOut, code = run([][]string{{"true"}}, "printf", "%s|", "a b", `$HOME`, "'q'")
	if out != "a b|$HOME|'q'|" || code != 0 {
		t.Errorf("arguments reached the command as %q (%q, %d)", out, errOut, code)
	}
	setup := [][]string{{"true"}, {"sh", "-c", "echo loud; exit 7"}, {"touch", dir + "/never"}}
	out, errOut, code = run(setup, "echo", "not run")
	if out != "" || code != 125 || !strings.Contains(errOut, c.marker) {
		t.Fatalf("failing setup: %q %q %d", out, errOut, code)
	}
	if got, want := setupFailure(errOut, c.marker, setup), `setup command 2 ["sh" "-c" "echo loud; exit 7"] failed with exit code 7`; got != want {
		t.Errorf("setupFailure = %q, want %q", got, want)
	}
	if got := setupFailure("garbage", c.marker, setup); got != "a setup command failed" {
		t.Errorf("setupFailure without a marker line = %q", got)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"": "''", "a b": "'a b'", "it's": `'it'\''s'`, "$x": "'$x'"} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
