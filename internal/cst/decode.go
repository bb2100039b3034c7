package cst

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Parse decodes one CST config (YAML or JSON) and validates it. file names the config in
// errors ("" for none). Every problem is reported at once in a *ConfigError.
func Parse(b []byte, file string) (*Config, error) {
	cfg := &Config{File: file}
	root, err := document(b)
	if err != nil {
		return nil, &ConfigError{File: file, Problems: []Problem{*err}}
	}
	d := &decoder{lines: map[string]int{}}
	d.value(root, reflect.ValueOf(cfg).Elem(), "")
	if len(d.problems) == 0 {
		cfg.validate(d)
	}
	if len(d.problems) > 0 {
		slices.SortStableFunc(d.problems, func(a, b Problem) int { return a.Line - b.Line })
		return nil, &ConfigError{File: file, Problems: d.problems}
	}
	return cfg, nil
}

// document reads b as exactly one YAML document holding a mapping.
func document(b []byte) (*yaml.Node, *Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Problem{Msg: "empty: a config starts with schemaVersion: \"2.0.0\""}
		}
		return nil, yamlProblem(err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, yamlProblem(err)
	default:
		return nil, &Problem{Line: next.Line, Msg: "a second YAML document: a config file holds one"}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, &Problem{Line: root.Line, Msg: "want a mapping with schemaVersion and the tests"}
	}
	return root, nil
}

// yamlLineRE finds the line number at the start of a yaml.v3 error message.
var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?(?:line (\d+): )?`)

// yamlProblem turns a YAML syntax or type error into a Problem with its line.
func yamlProblem(err error) *Problem {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	p := &Problem{}
	m := yamlLineRE.FindStringSubmatch(msg)
	if m[1] != "" {
		p.Line, _ = strconv.Atoi(m[1])
	}
	p.Msg = msg[len(m[0]):]
	return p
}

// decoder decodes YAML nodes into the config structs by their yaml tags, recording the line of
// every path and a problem for every unknown key or ill-shaped value.
type decoder struct {
	problems []Problem
	lines    map[string]int
}

func (d *decoder) add(line int, path, format string, args ...any) {
	d.problems = append(d.problems, Problem{Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// line returns the line recorded for path, or for its nearest recorded parent.
func (d *decoder) line(path string) int {
	for {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return d.lines[""]
		}
		path = path[:i]
	}
}

// defaulter is a struct that sets its defaults before it is decoded.
type defaulter interface{ setDefaults() }

var nodeUnmarshaler = reflect.TypeFor[yaml.Unmarshaler]()

func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	d.lines[path] = n.Line
	if v.Addr().Type().Implements(nodeUnmarshaler) {
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.add(n.Line, path, "%v", err)
		}
		return
	}
	null := n.Kind == yaml.ScalarNode && n.Tag == "!!null"
	switch v.Kind() {
	case reflect.Pointer:
		if null {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		d.value(n, p.Elem(), path)
		v.Set(p)
	case reflect.Struct:
		if df, ok := v.Addr().Interface().(defaulter); ok {
			df.setDefaults()
		}
		if null {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.add(n.Line, path, "want a mapping, not %s", shape(n))
			return
		}
		d.mapping(n, v, path)
	case reflect.Slice:
		if null {
			v.SetZero()
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.add(n.Line, path, "want a list, not %s", shape(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.value(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	default:
		if n.Kind != yaml.ScalarNode {
			d.add(n.Line, path, "want a %s, not %s", kindName(v.Kind()), shape(n))
			return
		}
		if null {
			v.SetZero()
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.add(n.Line, path, "want a %s, not %q", kindName(v.Kind()), n.Value)
		}
	}
}

// mapping decodes the keys of n into the fields of struct v.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	fields := map[string]int{}
	var known []string
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = i
		known = append(known, name)
		if alias := t.Field(i).Tag.Get("alias"); alias != "" {
			fields[alias] = i
		}
	}
	seen := map[int]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		kp := join(path, key)
		if k.Kind != yaml.ScalarNode {
			d.add(k.Line, path, "a key must be a plain name, not %s", shape(k))
			continue
		}
		fi, ok := fields[key]
		if !ok {
			d.add(k.Line, path, "unknown key %q%s", key, suggest(key, known))
			continue
		}
		if prev, dup := seen[fi]; dup {
			d.add(k.Line, path, "%q given twice (also as %q)", key, prev)
			continue
		}
		seen[fi] = key
		d.value(val, v.Field(fi), kp)
		d.lines[kp] = k.Line
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// shape names what a node is, for messages.
func shape(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "an alias"
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "boolean (true or false)"
	case reflect.Int:
		return "whole number"
	}
	return "string"
}

// suggest returns ` (did you mean "x"?)` for the known key closest to key, or "" when none is
// close.
func suggest(key string, known []string) string {
	best, bestDist := "", 4
	for _, k := range known {
		if dist := editDistance(strings.ToLower(key), strings.ToLower(k)); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best == "" {
		return "; known keys: " + strings.Join(known, ", ")
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// UnmarshalYAML reads a command as one string or a list of strings.
func (a *Argv) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			*a = nil
			return nil
		}
		*a = Argv{n.Value}
		return nil
	case yaml.SequenceNode:
		out := make(Argv, 0, len(n.Content))
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				return errors.New("want a command as a string or a list of strings")
			}
			out = append(out, item.Value)
		}
		*a = out
		return nil
	}
	return fmt.Errorf("want a command as a string or a list of strings, not %s", shape(n))
}

// permissionsRE is what Go's os.FileMode.String prints: type letters (or '-') and rwx bits.
var permissionsRE = regexp.MustCompile(`^([dalTLDpSugct?]+|-)[r-][w-][x-][r-][w-][x-][r-][w-][x-]$`)

// validate reports what CST would refuse or could never match.
func (c *Config) validate(d *decoder) {
	bad := func(path, format string, args ...any) { d.add(d.line(path), path, format, args...) }
	switch {
	case c.SchemaVersion == "":
		bad("", "schemaVersion is missing: want one of %s", strings.Join(SchemaVersions, ", "))
	case !slices.Contains(SchemaVersions, c.SchemaVersion):
		bad("schemaVersion", "unsupported schemaVersion %q: want one of %s", c.SchemaVersion, strings.Join(SchemaVersions, ", "))
	}
	regexes := func(path string, list []string) {
		for i, s := range list {
			if _, err := regexp.Compile(s); err != nil {
				bad(fmt.Sprintf("%s[%d]", path, i), "invalid regular expression: %v", err)
			}
		}
	}
	envVars := func(path string, list []KeyValue) {
		for i, e := range list {
			p := fmt.Sprintf("%s[%d]", path, i)
			if e.Key == "" {
				bad(p, "an environment variable needs a key")
			}
			if e.IsRegex {
				bad(p+".isRegex", "isRegex applies to metadata tests only")
			}
		}
	}
	envVars("globalEnvVars", c.GlobalEnvVars)
	for i, t := range c.CommandTests {
		p := fmt.Sprintf("commandTests[%d]", i)
		if t.Name == "" {
			bad(p, "a command test needs a name")
		}
		if len(t.Command) == 0 || t.Command[0] == "" {
			bad(p, "command test %q needs a command", t.Name)
		}
		for j, s := range t.Setup {
			if len(s) == 0 {
				bad(fmt.Sprintf("%s.setup[%d]", p, j), "empty setup command")
			}
		}
		for j, s := range t.Teardown {
			if len(s) == 0 {
				bad(fmt.Sprintf("%s.teardown[%d]", p, j), "empty teardown command")
			}
		}
		envVars(p+".envVars", t.EnvVars)
		regexes(p+".expectedOutput", t.ExpectedOutput)
		regexes(p+".excludedOutput", t.ExcludedOutput)
		regexes(p+".expectedError", t.ExpectedError)
		regexes(p+".excludedError", t.ExcludedError)
	}
	for i, t := range c.FileExistenceTests {
		p := fmt.Sprintf("fileExistenceTests[%d]", i)
		if t.Name == "" {
			bad(p, "a file existence test needs a name")
		}
		if t.Path == "" {
			bad(p, "file existence test %q needs a path", t.Name)
		}
		if t.Permissions != "" && !permissionsRE.MatchString(t.Permissions) {
			bad(p+".permissions", "%q is not a permission string CST can match: it compares Go's os.FileMode strings such as \"-rw-r--r--\", \"drwxr-xr-x\", \"Lrwxrwxrwx\" (a symbolic link) or \"urwxr-xr-x\" (setuid)", t.Permissions)
		}
		switch t.IsExecutableBy {
		case "", "owner", "group", "other", "any":
		default:
			bad(p+".isExecutableBy", "%q: want owner, group, other or any", t.IsExecutableBy)
		}
		if t.UID != nil && *t.UID < 0 {
			bad(p+".uid", "uid %d < 0", *t.UID)
		}
		if t.GID != nil && *t.GID < 0 {
			bad(p+".gid", "gid %d < 0", *t.GID)
		}
	}
	for i, t := range c.FileContentTests {
		p := fmt.Sprintf("fileContentTests[%d]", i)
		if t.Name == "" {
			bad(p, "a file content test needs a name")
		}
		if t.Path == "" {
			bad(p, "file content test %q needs a path", t.Name)
		}
		regexes(p+".expectedContents", t.ExpectedContents)
		regexes(p+".excludedContents", t.ExcludedContents)
	}
	if m := c.MetadataTest; m != nil {
		pairs := func(path, what string, list []KeyValue) {
			for i, e := range list {
				ip := fmt.Sprintf("%s[%d]", path, i)
				if e.Key == "" {
					bad(ip, "a %s needs a key", what)
				}
				if e.IsRegex {
					if _, err := regexp.Compile(e.Value); err != nil {
						bad(ip+".value", "invalid regular expression: %v", err)
					}
				}
			}
		}
		pairs("metadataTest.envVars", "environment variable", m.EnvVars)
		pairs("metadataTest.unboundEnvVars", "environment variable", m.UnboundEnvVars)
		pairs("metadataTest.labels", "label", m.Labels)
		nonEmpty := func(path, what string, list []string) {
			for i, s := range list {
				if s == "" {
					bad(fmt.Sprintf("%s[%d]", path, i), "empty %s", what)
				}
			}
		}
		nonEmpty("metadataTest.exposedPorts", "port", m.ExposedPorts)
		nonEmpty("metadataTest.unexposedPorts", "port", m.UnexposedPorts)
		nonEmpty("metadataTest.volumes", "volume", m.Volumes)
		nonEmpty("metadataTest.unmountedVolumes", "volume", m.UnmountedVolumes)
	}
}
