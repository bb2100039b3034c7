package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// parse decodes b strictly over the defaults and validates the result. file names the
// policy in problems, "" for none. It stops, returning ctx's error, when ctx ends.
func parse(ctx context.Context, b []byte, file string) (*Policy, error) {
	root, problems := readDocument(b)
	p := Default()
	if root != nil {
		p.Kind = "" // the file must say it
		d := decoder{lines: map[string]int{}, done: ctx.Done()}
		d.decode(root, reflect.ValueOf(p).Elem(), "")
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("decode policy: %w", err)
		}
		problems = d.problems
		for _, vp := range p.problems() {
			vp.Line = d.line(vp.Path)
			problems = append(problems, vp)
		}
	}
	if len(problems) == 0 {
		return p, nil
	}
	// In file order; problems without a line last.
	slices.SortStableFunc(problems, func(a, b *Problem) int {
		switch {
		case a.Line == b.Line:
			return 0
		case a.Line == 0:
			return 1
		case b.Line == 0:
			return -1
		}
		return a.Line - b.Line
	})
	for _, p := range problems {
		p.File = file
	}
	return nil, join(problems)
}

// readDocument reads b as one YAML document holding a mapping with the policy's apiVersion.
// A wrong or missing apiVersion is the only problem reported: the rest of such a file may mean
// something else entirely.
func readDocument(b []byte) (*yaml.Node, []*Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, []*Problem{{Msg: "empty: a policy file starts with apiVersion: " + APIVersion + " and kind: " + KindPolicy}}
		}
		return nil, []*Problem{yamlProblem(err)}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, []*Problem{yamlProblem(err)}
	default:
		line := next.Line
		if len(next.Content) > 0 {
			line = next.Content[0].Line
		}
		return nil, []*Problem{{Line: line, Msg: "a second YAML document: a policy file holds one"}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, []*Problem{{Line: root.Line, Msg: "not a policy: a policy file is a mapping that starts with apiVersion: " + APIVersion}}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k, v := root.Content[i], root.Content[i+1]; k.Value == "apiVersion" {
			if v.Kind != yaml.ScalarNode {
				return nil, []*Problem{{Path: "apiVersion", Line: v.Line, Msg: "want a single value: apiVersion: " + APIVersion}}
			}
			if v.Value != APIVersion {
				return nil, []*Problem{apiVersionProblem(v.Value, v.Line)}
			}
			return root, nil
		}
	}
	return nil, []*Problem{apiVersionProblem("", root.Line)}
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line ([0-9]+): `)

// yamlProblem turns a YAML syntax error into a problem, its line lifted out of the message.
func yamlProblem(err error) *Problem {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Problem{Line: line, Msg: msg[len(m[0]):]}
	}
	return &Problem{Msg: strings.TrimPrefix(msg, "yaml: ")}
}

// decoder decodes YAML nodes into the policy's types, strictly: an unknown or repeated key, or
// a value of the wrong shape, is a problem at its path, and decoding goes on so that every
// problem is found. The policy's types are not recursive, so the walk follows the type and
// ends whatever aliases the document holds.
type decoder struct {
	problems []*Problem
	lines    map[string]int  // the line of each path decoded
	done     <-chan struct{} // closed when decoding is to stop
}

// stopped reports whether decoding is to stop (its context ended).
func (d *decoder) stopped() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

func (d *decoder) add(path string, line int, format string, args ...any) {
	d.problems = append(d.problems, &Problem{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// line returns the line of path, or of its closest decoded parent; 0 when none is known.
func (d *decoder) line(path string) int {
	for path != "" {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	d.lines[path] = n.Line
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // keep the default
	}
	switch v.Kind() {
	case reflect.Struct:
		if !d.want(n, yaml.MappingNode, path) {
			return
		}
		fields := map[string]int{}
		var known []string
		for i := range v.NumField() {
			name := yamlName(v.Type().Field(i))
			fields[name] = i
			known = append(known, name)
		}
		d.pairs(n, path, func(key string, kn, vn *yaml.Node) {
			i, ok := fields[key]
			if !ok {
				d.add(join2(path, key), kn.Line, "unknown field: use %s", strings.Join(known, ", "))
				return
			}
			d.decode(vn, v.Field(i), join2(path, key))
		})
	case reflect.Map:
		if !d.want(n, yaml.MappingNode, path) {
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		d.pairs(n, path, func(key string, kn, vn *yaml.Node) {
			k := reflect.New(v.Type().Key()).Elem()
			k.SetString(key)
			e := reflect.New(v.Type().Elem()).Elem()
			d.decode(vn, e, join2(path, key))
			v.SetMapIndex(k, e)
		})
	case reflect.Slice:
		if !d.want(n, yaml.SequenceNode, path) {
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			if d.stopped() {
				return
			}
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	default:
		if !d.want(n, yaml.ScalarNode, path) {
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.add(path, n.Line, "%q is not a %s", n.Value, typeName(v.Type()))
		}
	}
}

// pairs calls f for each key of mapping n, after a problem for any key given twice.
func (d *decoder) pairs(n *yaml.Node, path string, f func(key string, kn, vn *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content) && !d.stopped(); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind != yaml.ScalarNode {
			d.add(path, kn.Line, "a key must be a single value")
			continue
		}
		if first, ok := seen[kn.Value]; ok {
			d.add(join2(path, kn.Value), kn.Line, "given twice (first at line %d)", first)
			continue
		}
		seen[kn.Value] = kn.Line
		f(kn.Value, kn, vn)
	}
}

var nodeKinds = map[yaml.Kind]string{
	yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list", yaml.ScalarNode: "a single value",
	yaml.DocumentNode: "a document", yaml.AliasNode: "an alias",
}

// want reports whether n is of kind k, with a problem when it is not.
func (d *decoder) want(n *yaml.Node, k yaml.Kind, path string) bool {
	if n.Kind == k {
		return true
	}
	d.add(path, n.Line, "want %s, found %s", nodeKinds[k], nodeKinds[n.Kind])
	return false
}

// typeName names a leaf type for people.
func typeName(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "duration: write a Go duration such as 15m, 24h or 1h30m"
	case t.Kind() == reflect.Bool:
		return "boolean: write true or false"
	}
	return t.String()
}

// yamlName is the YAML key of a struct field.
func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

// join2 appends key to a YAML path.
func join2(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
