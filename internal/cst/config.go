// Package cst reads container-structure-test (CST) configs and runs them against an image, so
// that the structure tests users already have run unchanged as part of plimsoll's gate.
//
// The schema is CST's (schemaVersion 1.0.0 and 2.0.0): globalEnvVars, commandTests,
// fileExistenceTests, fileContentTests, metadataTest, licenseTests and containerRunOptions.
// Parse is stricter than CST, which ignores keys it does not know: an unknown key, a value of
// the wrong shape, a regular expression that does not compile or a permission string CST could
// never print is an error naming the line, so a typo cannot silently turn a test off. It
// accepts both spellings CST has had for a field (metadataTest env/envVars,
// unboundEnv/unboundEnvVars) and a command written as one string or as a list, in either
// schema version.
//
// Run evaluates file and metadata tests from the image itself (its flattened layers and its
// config), never through a container, so they work on shell-less and non-runnable images;
// only command tests start containers. See Run for how each kind follows CST's semantics and
// where it cannot.
package cst

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// ErrInvalid is wrapped by every error about the content of a config file (a *ConfigError).
var ErrInvalid = errors.New("invalid container-structure-test config")

// SchemaVersions are the schema versions Parse accepts.
var SchemaVersions = []string{"1.0.0", "2.0.0"}

// DefaultCommandTimeout bounds one command test when Config.CommandTimeout is zero.
const DefaultCommandTimeout = 60 * time.Second

// Config is one CST file.
type Config struct {
	// File is the path the config was read from ("" when it was parsed from bytes).
	File string `yaml:"-"`
	// CommandTimeout bounds each command test, from its start to its exit
	// (DefaultCommandTimeout when zero). CST has no such limit; it is not read from the file.
	CommandTimeout time.Duration `yaml:"-"`

	SchemaVersion       string               `yaml:"schemaVersion"`
	GlobalEnvVars       []KeyValue           `yaml:"globalEnvVars"`
	CommandTests        []CommandTest        `yaml:"commandTests"`
	FileExistenceTests  []FileExistenceTest  `yaml:"fileExistenceTests"`
	FileContentTests    []FileContentTest    `yaml:"fileContentTests"`
	MetadataTest        *MetadataTest        `yaml:"metadataTest"`
	LicenseTests        []LicenseTest        `yaml:"licenseTests"`
	ContainerRunOptions *ContainerRunOptions `yaml:"containerRunOptions"`
}

// KeyValue is an environment variable or a label. IsRegex makes Value a regular expression
// (metadata tests only).
type KeyValue struct {
	Key     string `yaml:"key"`
	Value   string `yaml:"value"`
	IsRegex bool   `yaml:"isRegex"`
}

// CommandTest runs Command with Args in a new container of the image and checks its exit
// code and output. The *Output and *Error fields are regular expressions over stdout and
// stderr.
type CommandTest struct {
	Name     string     `yaml:"name"`
	Setup    [][]string `yaml:"setup"`
	Teardown [][]string `yaml:"teardown"`
	EnvVars  []KeyValue `yaml:"envVars"`
	ExitCode int        `yaml:"exitCode"`
	// Command is the program and, in schema 1.0.0 style, its arguments.
	Command        Argv     `yaml:"command"`
	Args           []string `yaml:"args"`
	ExpectedOutput []string `yaml:"expectedOutput"`
	ExcludedOutput []string `yaml:"excludedOutput"`
	ExpectedError  []string `yaml:"expectedError"`
	ExcludedError  []string `yaml:"excludedError"`
}

// Argv is a command line written either as one string (the program) or as a list.
type Argv []string

// FileExistenceTest checks that a path exists (or not) with the given attributes.
type FileExistenceTest struct {
	Name string `yaml:"name"`
	Path string `yaml:"path"`
	// ShouldExist defaults to true, as in CST.
	ShouldExist bool `yaml:"shouldExist"`
	// Permissions is Go's os.FileMode string of the entry, as CST compares it: "-rw-r--r--",
	// "drwxr-xr-x", "Lrwxrwxrwx" for a symbolic link, "urwxr-xr-x" for a setuid file.
	Permissions string `yaml:"permissions"`
	// UID and GID are the owner's numeric IDs; nil = not checked.
	UID *int `yaml:"uid"`
	GID *int `yaml:"gid"`
	// IsExecutableBy is "owner", "group", "other" or "any" ("" = not checked).
	IsExecutableBy string `yaml:"isExecutableBy"`
}

func (t *FileExistenceTest) setDefaults() { t.ShouldExist = true }

// FileContentTest checks a file's content against regular expressions.
type FileContentTest struct {
	Name             string   `yaml:"name"`
	Path             string   `yaml:"path"`
	ExpectedContents []string `yaml:"expectedContents"`
	ExcludedContents []string `yaml:"excludedContents"`
}

// MetadataTest checks the image config. Every field is optional; nil Entrypoint and Cmd are
// not checked, while an empty list checks that the image has none.
type MetadataTest struct {
	EnvVars          []KeyValue `yaml:"envVars" alias:"env"`
	UnboundEnvVars   []KeyValue `yaml:"unboundEnvVars" alias:"unboundEnv"`
	Labels           []KeyValue `yaml:"labels"`
	ExposedPorts     []string   `yaml:"exposedPorts"`
	UnexposedPorts   []string   `yaml:"unexposedPorts"`
	Entrypoint       *[]string  `yaml:"entrypoint"`
	Cmd              *[]string  `yaml:"cmd"`
	Workdir          string     `yaml:"workdir"`
	Volumes          []string   `yaml:"volumes"`
	UnmountedVolumes []string   `yaml:"unmountedVolumes"`
	User             string     `yaml:"user"`
}

// empty reports whether m checks nothing (CST runs no metadata test then).
func (m *MetadataTest) empty() bool {
	return m == nil || len(m.EnvVars) == 0 && len(m.UnboundEnvVars) == 0 && len(m.Labels) == 0 &&
		len(m.ExposedPorts) == 0 && len(m.UnexposedPorts) == 0 && m.Entrypoint == nil &&
		m.Cmd == nil && m.Workdir == "" && len(m.Volumes) == 0 && len(m.UnmountedVolumes) == 0 &&
		m.User == ""
}

// LicenseTest is parsed so that real files load; Run reports it as skipped (not supported).
type LicenseTest struct {
	Debian bool     `yaml:"debian"`
	Files  []string `yaml:"files"`
}

// ContainerRunOptions are CST's docker-driver options for command-test containers. Run honours
// User; a command test of a file that sets any other option is skipped with the reason, since
// running it without the option would judge the image by a test it was not written for.
type ContainerRunOptions struct {
	User         string   `yaml:"user"`
	Privileged   bool     `yaml:"privileged"`
	AllocateTty  bool     `yaml:"allocateTty"`
	EnvFile      string   `yaml:"envFile"`
	EnvVars      []string `yaml:"envVars"`
	Capabilities []string `yaml:"capabilities"`
	BindMounts   []string `yaml:"bindMounts"`
	Network      string   `yaml:"network"`
}

// unsupported names the options Run cannot honour, "" when there are none.
func (o *ContainerRunOptions) unsupported() string {
	if o == nil {
		return ""
	}
	var names []string
	add := func(set bool, name string) {
		if set {
			names = append(names, name)
		}
	}
	add(o.Privileged, "privileged")
	add(o.AllocateTty, "allocateTty")
	add(o.EnvFile != "", "envFile")
	add(len(o.EnvVars) > 0, "envVars")
	add(len(o.Capabilities) > 0, "capabilities")
	add(len(o.BindMounts) > 0, "bindMounts")
	add(o.Network != "", "network")
	return strings.Join(names, ", ")
}

// Problem is one thing wrong with a config file.
type Problem struct {
	// Line is the 1-based line of the offending node, 0 when unknown.
	Line int
	// Path locates the value ("commandTests[2].expectedOutput[0]"), "" for the whole file.
	Path string
	Msg  string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// ConfigError lists every problem of one config file, in file order.
type ConfigError struct {
	File     string
	Problems []Problem
}

func (e *ConfigError) Error() string {
	name := e.File
	if name == "" {
		name = "config"
	}
	if len(e.Problems) == 1 {
		return fmt.Sprintf("container-structure-test %s: %s", name, e.Problems[0])
	}
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = "  " + p.String()
	}
	return fmt.Sprintf("container-structure-test %s: %d problems:\n%s", name, len(e.Problems), strings.Join(lines, "\n"))
}

// Unwrap makes a ConfigError match ErrInvalid.
func (e *ConfigError) Unwrap() error { return ErrInvalid }

// Load reads and parses the config file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("container-structure-test config: %w", err)
	}
	return Parse(b, path)
}
