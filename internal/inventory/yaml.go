package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// yamlScan collects the references of one YAML file.
type yamlScan struct {
	file       string
	kind       Kind
	lines      []string
	appVersion string // Helm: the chart's appVersion, used when a split image has no tag
	refs       []Ref
	problems   []string
}

// parseYAML walks every document of a YAML file with the walker for kind.
// The walkers never follow aliases, so anchors cannot make them loop.
func parseYAML(file string, kind Kind, data []byte, appVersion string) (refs []Ref, problems []string) {
	y := &yamlScan{file: file, kind: kind, lines: strings.Split(string(data), "\n"), appVersion: appVersion}
	defer func() {
		// The YAML library must not take Find down with one odd file.
		if r := recover(); r != nil {
			refs, problems = y.refs, append(y.problems, fmt.Sprintf("yaml parser failed: %v", r))
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			y.problems = append(y.problems, err.Error())
			break
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		switch kind {
		case KindK8s:
			y.k8s(root)
		case KindHelm:
			y.helm(root, nil)
		case KindCompose:
			y.compose(root)
		case KindGitHub:
			y.github(root)
		case KindGitLab:
			y.gitlab(root)
		}
	}
	return y.refs, y.problems
}

// pairs returns the key/value pairs of a mapping node (nil for other nodes).
func pairs(n *yaml.Node) [][2]*yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([][2]*yaml.Node, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, [2]*yaml.Node{n.Content[i], n.Content[i+1]})
	}
	return out
}

// lookup returns the value of key in mapping n, or nil.
func lookup(n *yaml.Node, key string) *yaml.Node {
	for _, p := range pairs(n) {
		if p[0].Value == key {
			return p[1]
		}
	}
	return nil
}

func isScalar(n *yaml.Node) bool { return n != nil && n.Kind == yaml.ScalarNode }

// textAt finds a single-line scalar's text in the file: it returns the 1-based
// byte column where n.Value starts (inside any quotes) and the quote used.
func (y *yamlScan) textAt(n *yaml.Node) (col int, quote string, ok bool) {
	if !isScalar(n) || strings.ContainsAny(n.Value, "\n\r") || n.Line < 1 || n.Line > len(y.lines) {
		return 0, "", false
	}
	line := y.lines[n.Line-1]
	b := byteCol(line, n.Column)
	if b < 0 {
		return 0, "", false
	}
	rest := line[b:]
	switch n.Style {
	case 0:
		if strings.HasPrefix(rest, n.Value) {
			return b + 1, "", true
		}
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		q := rest[:min(1, len(rest))]
		if (q == `"` || q == "'") && strings.HasPrefix(rest[1:], n.Value+q) {
			return b + 2, q, true
		}
	}
	return 0, "", false
}

// byteCol turns a 1-based rune column into a 0-based byte offset in line.
func byteCol(line string, col int) int {
	b := 0
	for i := 1; i < col; i++ {
		if b >= len(line) {
			return -1
		}
		_, size := utf8.DecodeRuneInString(line[b:])
		b += size
	}
	if b > len(line) {
		return -1
	}
	return b
}

var composeVarRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}`)

// image records the reference in scalar n, skipping the first skip bytes of
// its value (the "docker://" of a GitHub step).
func (y *yamlScan) image(n *yaml.Node, skip int, note string, local bool) {
	if !isScalar(n) || len(n.Value) <= skip {
		return
	}
	raw := n.Value[skip:]
	if strings.Contains(raw, "{{") {
		return // a template or a CI expression: nothing to resolve offline
	}
	if strings.Contains(raw, "$") {
		y.expanded(n, raw, note, local)
		return
	}
	p, err := parseRef(raw)
	if err != nil {
		y.problems = append(y.problems, fmt.Sprintf("line %d: %v", n.Line, err))
		return
	}
	var s site
	if col, _, ok := y.textAt(n); ok {
		s = site{mode: modeReplace, line: n.Line, col: col + skip, old: raw}
	}
	r := newRef(y.file, n.Line, y.kind, raw, p, note, s)
	r.Local = local
	y.refs = append(y.refs, r)
}

// expanded reports a reference built from ${VAR:-default} variables when
// every variable has a default; it cannot be pinned in place.
func (y *yamlScan) expanded(n *yaml.Node, raw, note string, local bool) {
	resolved := true
	exp := composeVarRE.ReplaceAllStringFunc(raw, func(v string) string {
		m := composeVarRE.FindStringSubmatch(v)
		if !strings.Contains(v, "-") {
			resolved = false
		}
		return m[2]
	})
	if !resolved || strings.Contains(exp, "$") {
		return // CI or environment variables without defaults: unknown offline
	}
	p, err := parseRef(exp)
	if err != nil {
		y.problems = append(y.problems, fmt.Sprintf("line %d: %s: %v", n.Line, raw, err))
		return
	}
	note = strings.TrimPrefix(note+"; expanded from variable defaults to "+exp+"; not pinnable in place", "; ")
	r := newRef(y.file, n.Line, y.kind, raw, p, note, site{})
	r.Local = local
	y.refs = append(y.refs, r)
}

// k8s finds image: under containers, initContainers and ephemeralContainers
// at any depth (Pod, Deployment, CronJob, List …).
func (y *yamlScan) k8s(n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for _, p := range pairs(n) {
			switch p[0].Value {
			case "containers", "initContainers", "ephemeralContainers":
				if p[1].Kind == yaml.SequenceNode {
					for _, c := range p[1].Content {
						y.image(lookup(c, "image"), 0, "", false)
					}
					continue
				}
			}
			y.k8s(p[1])
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			y.k8s(c)
		}
	}
}

// helm finds plain `image: repo:tag` strings and split images (a mapping
// with repository and optionally registry, tag and digest) at any depth.
func (y *yamlScan) helm(n *yaml.Node, path []string) {
	switch n.Kind {
	case yaml.MappingNode:
		for _, p := range pairs(n) {
			k, v := p[0].Value, p[1]
			sub := append(path[:len(path):len(path)], k)
			switch {
			case isScalar(v) && strings.EqualFold(k, "image"):
				y.image(v, 0, "", false)
			case isScalar(lookup(v, "repository")):
				y.helmSplit(v, strings.Join(sub, "."))
			default:
				y.helm(v, sub)
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			y.helm(c, append(path[:len(path):len(path)], fmt.Sprint(i)))
		}
	}
}

func (y *yamlScan) helmSplit(m *yaml.Node, at string) {
	repoN, regN, tagN, digN := lookup(m, "repository"), lookup(m, "registry"), lookup(m, "tag"), lookup(m, "digest")
	if repoN.Value == "" || strings.Contains(repoN.Value, "{{") {
		return
	}
	parts := []string{"repository"}
	raw := repoN.Value
	if isScalar(regN) && regN.Value != "" {
		raw = regN.Value + "/" + raw
		parts = append([]string{"registry"}, parts...)
	}
	tag := ""
	if isScalar(tagN) {
		tag = tagN.Value
		parts = append(parts, "tag")
	}
	var notes []string
	if tag == "" && y.appVersion != "" {
		tag = y.appVersion
		notes = append(notes, "tag from Chart.yaml appVersion")
	}
	if tag != "" {
		raw += ":" + tag
	}
	digest := ""
	if isScalar(digN) && digN.Value != "" && digN.Tag != "!!null" {
		digest = digN.Value
		parts = append(parts, "digest")
	}
	if digest != "" && !strings.Contains(tag, "@") {
		raw += "@" + digest
	}
	p, err := parseRef(raw)
	if err != nil {
		y.problems = append(y.problems, fmt.Sprintf("line %d: %s: %v", repoN.Line, at, err))
		return
	}
	notes = append([]string{"helm " + at + ": " + strings.Join(parts, " + ")}, notes...)
	r := newRef(y.file, repoN.Line, KindHelm, raw, p, strings.Join(notes, "; "), y.splitSite(m, tagN, digN))
	y.refs = append(y.refs, r)
}

// splitSite says how Pin pins a Helm split image: fill an empty digest:,
// else add a digest: line after tag: (block style), else (flow style)
// append @digest to the tag value.
func (y *yamlScan) splitSite(m, tagN, digN *yaml.Node) site {
	if digN != nil {
		if !isScalar(digN) || digN.Line < 1 || digN.Line > len(y.lines) {
			return site{}
		}
		if digN.Value == "" && digN.Style == 0 {
			// `digest:` with no value: write after the key's colon.
			for _, p := range pairs(m) {
				if p[1] != digN {
					continue
				}
				k := p[0]
				line := y.lines[k.Line-1]
				b := byteCol(line, k.Column)
				if k.Style != 0 || k.Line != digN.Line || b < 0 || !strings.HasPrefix(line[b:], k.Value+":") {
					return site{}
				}
				return site{mode: modeDigest, line: k.Line, col: b + len(k.Value) + 2, prefix: " "}
			}
			return site{}
		}
		col, q, ok := y.textAt(digN)
		if !ok || !(digN.Value == "" || digN.Value == "~" || digN.Value == "null") {
			return site{}
		}
		if q != "" {
			return site{mode: modeDigest, line: digN.Line, col: col, old: ""}
		}
		return site{mode: modeDigest, line: digN.Line, col: col, old: digN.Value}
	}
	if m.Style&yaml.FlowStyle != 0 {
		if col, _, ok := y.textAt(tagN); ok && tagN.Value != "" {
			return site{mode: modeTag, line: tagN.Line, col: col, old: tagN.Value}
		}
		return site{}
	}
	anchor := lookup(m, "repository")
	keyCol := 0
	for _, p := range pairs(m) {
		if p[1] == tagN && tagN != nil {
			anchor, keyCol = tagN, p[0].Column
		}
		if p[1] == anchor && keyCol == 0 {
			keyCol = p[0].Column
		}
	}
	if _, _, ok := y.textAt(anchor); !ok || keyCol < 1 {
		return site{}
	}
	eol := "\n"
	if strings.HasSuffix(y.lines[anchor.Line-1], "\r") {
		eol = "\r\n"
	}
	return site{mode: modeInsert, line: anchor.Line + 1, col: 1, indent: strings.Repeat(" ", keyCol-1), eol: eol}
}

// compose finds services.*.image; a service that also has build: names its
// build output, reported as Local.
func (y *yamlScan) compose(root *yaml.Node) {
	for _, svc := range pairs(lookup(root, "services")) {
		if lookup(svc[1], "build") != nil {
			y.image(lookup(svc[1], "image"), 0, "service "+svc[0].Value+" has build:; image names the build output", true)
			continue
		}
		y.image(lookup(svc[1], "image"), 0, "", false)
	}
}

// github finds jobs.*.container(.image), jobs.*.services.*.image and
// steps' uses: docker://image.
func (y *yamlScan) github(root *yaml.Node) {
	for _, job := range pairs(lookup(root, "jobs")) {
		j := job[1]
		if c := lookup(j, "container"); isScalar(c) {
			y.image(c, 0, "job "+job[0].Value+" container", false)
		} else {
			y.image(lookup(c, "image"), 0, "job "+job[0].Value+" container", false)
		}
		for _, svc := range pairs(lookup(j, "services")) {
			y.image(lookup(svc[1], "image"), 0, "job "+job[0].Value+" service "+svc[0].Value, false)
		}
		if steps := lookup(j, "steps"); steps != nil && steps.Kind == yaml.SequenceNode {
			for _, st := range steps.Content {
				if u := lookup(st, "uses"); isScalar(u) && strings.HasPrefix(u.Value, "docker://") {
					y.image(u, len("docker://"), "job "+job[0].Value+" step uses docker://", false)
				}
			}
		}
	}
}

// gitlab finds image: (a string or image.name) and services: entries at the
// top level, in default: and in every job.
func (y *yamlScan) gitlab(root *yaml.Node) {
	y.gitlabJob(root, "")
	for _, p := range pairs(root) {
		if p[1].Kind == yaml.MappingNode && p[0].Value != "variables" {
			y.gitlabJob(p[1], "job "+p[0].Value)
		}
	}
}

func (y *yamlScan) gitlabJob(j *yaml.Node, note string) {
	img := lookup(j, "image")
	if !isScalar(img) {
		img = lookup(img, "name")
	}
	y.image(img, 0, note, false)
	if svcs := lookup(j, "services"); svcs != nil && svcs.Kind == yaml.SequenceNode {
		for _, s := range svcs.Content {
			if !isScalar(s) {
				s = lookup(s, "name")
			}
			y.image(s, 0, strings.TrimPrefix(note+" service", " "), false)
		}
	}
}

// chartAppVersion returns the appVersion of the chart a Helm values file
// belongs to, or "".
func chartAppVersion(path string, kind Kind) string {
	if kind != KindHelm {
		return ""
	}
	data, err := os.ReadFile(filepath.Join(filepath.Dir(path), "Chart.yaml"))
	if err != nil {
		return ""
	}
	var c struct {
		AppVersion string `yaml:"appVersion"`
	}
	if yaml.Unmarshal(data, &c) != nil {
		return ""
	}
	return c.AppVersion
}
