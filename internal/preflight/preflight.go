// Package preflight is the checklist run before a deployment to Kubernetes: the chart lints
// and renders, the API server accepts every rendered object (server-side dry run), the nodes
// are Ready and schedulable, the pods the deployment replaces are Running, and the Ready
// nodes have room (allocatable minus the requests of the pods already running) for the new
// replicas' requests. Each item is a check.Result: a blocker is a FAIL, a risk a WARN.
package preflight

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/helm"
)

// Names of the checks, as they appear in results.
const (
	CheckLint     = "chart-lint"
	CheckRender   = "render"
	CheckDryRun   = "dry-run"
	CheckNodes    = "nodes"
	CheckPods     = "current-pods"
	CheckCapacity = "capacity"
)

// ErrNoObjects is returned (wrapped) when the chart or manifests hold no object to check.
var ErrNoObjects = errors.New("nothing to deploy")

// Options say what is about to be deployed, and where.
type Options struct {
	// Chart is a chart directory or archive, rendered with ValueFiles and Set (helm's -f and
	// --set) as release Release; or Manifests are YAML files of objects. One of the two.
	Chart      string
	ValueFiles []string
	Set        []string
	Release    string
	Manifests  []string
	// Namespace is where the objects go (those without a namespace of their own).
	Namespace string
	// Logger gets diagnostics; nil discards them.
	Logger *slog.Logger
}

// Run renders the objects and runs every check against the cluster cfg points at. Results
// come in checklist order; an error means the checklist could not run at all (the chart
// cannot be read, the cluster cannot be reached).
func Run(ctx context.Context, cfg *rest.Config, o Options) ([]check.Result, error) {
	if (o.Chart == "") == (len(o.Manifests) == 0) {
		return nil, errors.New("preflight: give a chart or manifests, not both or neither")
	}
	var results []check.Result
	var objs []*unstructured.Unstructured
	if o.Chart != "" {
		lint, rendered, err := renderChart(o)
		if err != nil {
			return nil, err
		}
		results = append(results, lint, rendered.result)
		objs = rendered.objs
	} else {
		r := loadManifests(o.Manifests)
		results = append(results, r.result)
		objs = r.objs
	}
	if len(objs) == 0 {
		return results, fmt.Errorf("%w: %s", ErrNoObjects, results[len(results)-1].Message)
	}
	cl, err := newCluster(cfg, o.Namespace)
	if err != nil {
		return results, err
	}
	results = append(results, cl.dryRun(ctx, objs))
	nodes, usable, nodeRes, err := cl.nodes(ctx)
	if err != nil {
		return results, err
	}
	results = append(results, nodeRes)
	pods, err := cl.currentPods(ctx, objs)
	if err != nil {
		return results, err
	}
	results = append(results, pods)
	capRes, err := cl.capacity(ctx, objs, nodes, usable)
	if err != nil {
		return results, err
	}
	return append(results, capRes), nil
}

type rendered struct {
	objs   []*unstructured.Unstructured
	result check.Result
}

// renderChart lints the chart (helm lint) and renders it (helm template) into objects.
func renderChart(o Options) (check.Result, rendered, error) {
	ch, vals, err := helm.ChartValues(o.Chart, o.ValueFiles, o.Set)
	if err != nil {
		return check.Result{}, rendered{}, err
	}
	lint := check.Result{Check: CheckLint, Status: check.StatusPass, Source: o.Chart}
	lr := action.NewLint()
	lr.Namespace = o.Namespace
	res := lr.Run([]string{o.Chart}, vals)
	var msgs []string
	for _, m := range res.Messages {
		switch {
		case m.Severity >= support.ErrorSev:
			lint.Status = check.StatusFail
		case m.Severity == support.WarningSev:
			lint.Status = check.Worst(lint.Status, check.StatusWarn)
		default: // information is not a finding
			continue
		}
		msgs = append(msgs, m.Error())
	}
	for _, e := range res.Errors {
		if !strings.Contains(strings.Join(msgs, "\n"), e.Error()) {
			msgs = append(msgs, e.Error())
		}
		lint.Status = check.StatusFail
	}
	lint.Message = "helm lint: no findings"
	if len(msgs) > 0 {
		lint.Message = "helm lint: " + strings.Join(msgs, "; ")
	}

	r := rendered{result: check.Result{Check: CheckRender, Status: check.StatusPass, Source: o.Chart}}
	in := action.NewInstall(new(action.Configuration))
	name := o.Release
	if name == "" {
		name = ch.Metadata.Name
	}
	in.ReleaseName, in.Namespace = name, o.Namespace
	in.DryRun, in.ClientOnly, in.Replace, in.IncludeCRDs = true, true, true, true
	in.KubeVersion = &chartutil.DefaultCapabilities.KubeVersion
	rel, err := in.Run(ch, vals)
	if err != nil {
		r.result.Status, r.result.Message = check.StatusFail, "helm template: "+err.Error()
		return lint, r, nil
	}
	for _, m := range releaseutil.SplitManifests(rel.Manifest) {
		u, err := decode([]byte(m))
		if err != nil {
			r.result.Status, r.result.Message = check.StatusFail, "rendered manifest: "+err.Error()
			return lint, r, nil
		}
		if u != nil {
			r.objs = append(r.objs, u)
		}
	}
	sortObjects(r.objs)
	r.result.Message = fmt.Sprintf("chart %s-%s rendered %d objects", ch.Metadata.Name, ch.Metadata.Version, len(r.objs))
	return lint, r, nil
}

// loadManifests reads YAML files of objects (several documents each).
func loadManifests(files []string) rendered {
	r := rendered{result: check.Result{Check: CheckRender, Status: check.StatusPass, Source: strings.Join(files, ", ")}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil {
			var objs []*unstructured.Unstructured
			objs, err = decodeAll(b)
			r.objs = append(r.objs, objs...)
		}
		if err != nil {
			r.result.Status, r.result.Message = check.StatusFail, fmt.Sprintf("%s: %v", f, err)
			r.objs = nil
			return r
		}
	}
	sortObjects(r.objs)
	r.result.Message = fmt.Sprintf("%d objects in %d files", len(r.objs), len(files))
	return r
}

// decodeAll decodes a multi-document YAML stream into objects, skipping empty documents.
func decodeAll(b []byte) ([]*unstructured.Unstructured, error) {
	rd := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var out []*unstructured.Unstructured
	for i := 1; ; i++ {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		u, err := decode(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if u != nil {
			out = append(out, u)
		}
	}
}

// decode decodes one YAML document into an object; an empty document is nil.
func decode(doc []byte) (*unstructured.Unstructured, error) {
	var m map[string]any
	if err := yaml.Unmarshal(doc, &m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	u := &unstructured.Unstructured{Object: m}
	if u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "" {
		return nil, fmt.Errorf("an object needs apiVersion, kind and metadata.name")
	}
	return u, nil
}

// sortObjects orders objects as they are listed in results: by kind, then name.
func sortObjects(objs []*unstructured.Unstructured) {
	sort.SliceStable(objs, func(i, j int) bool {
		if objs[i].GetKind() != objs[j].GetKind() {
			return objs[i].GetKind() < objs[j].GetKind()
		}
		return objs[i].GetName() < objs[j].GetName()
	})
}

func ref(u *unstructured.Unstructured) string {
	return strings.ToLower(u.GetKind()) + "/" + u.GetName()
}
