// Package helm is plimsoll's Helm delivery over the Helm SDK (no helm binary): the history of
// a release, rollback to the previous or a given revision with a wait for Ready pods, an
// (atomic) upgrade that Helm rolls back when the new pods never become Ready, and recovery of
// a release stuck in pending-install, pending-upgrade or pending-rollback. Releases are read
// and written where the helm CLI keeps them (Secrets of the release's namespace), so helm and
// plimsoll see the same history.
package helm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"helm.sh/helm/v3/pkg/strvals"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/plimsoll/plimsoll/internal/kube"
)

// Sentinel errors, for callers that branch.
var (
	// ErrNotFound: the release has no revision in the namespace.
	ErrNotFound = errors.New("helm release not found")
	// ErrBadRelease is returned (wrapped) for a workload name that is not helm/NAME.
	ErrBadRelease = errors.New("bad helm release name")
	// ErrNoTarget: there is no revision to roll back to (the given one does not exist, or
	// no earlier revision was ever deployed).
	ErrNoTarget = errors.New("no revision to roll back to")
	// ErrRollbackFailed: the rollback was applied but its pods did not become Ready in time.
	ErrRollbackFailed = errors.New("helm rollback failed")
	// ErrUpgradeFailed: the upgrade was applied but failed (with Atomic, Helm rolled it back).
	ErrUpgradeFailed = errors.New("helm upgrade failed")
	// ErrPending: the release is stuck in a pending-* status; upgrading it is refused until
	// it is recovered with Rollback.
	ErrPending = errors.New("helm release has an operation pending")
)

// Client runs Helm actions on the releases of one namespace.
type Client struct {
	cfg *action.Configuration
	ns  string
}

// New builds a client from kubectl-style options (kubeconfig path, context, namespace). log
// gets Helm's diagnostics; nil discards them.
func New(o kube.ClientOptions, log *slog.Logger) (*Client, error) {
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Context = &o.Kubeconfig, &o.Context
	// discovery is cached where kubectl caches it ($KUBECACHEDIR, else ~/.kube/cache)
	flags.WrapConfigFn = func(c *rest.Config) *rest.Config {
		c.QPS, c.Burst, c.UserAgent = 50, 100, "plimsoll"
		return c
	}
	_, ns, err := o.Config()
	if err != nil {
		return nil, err
	}
	flags.Namespace = &ns
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := new(action.Configuration)
	debug := func(format string, v ...any) { log.Debug(fmt.Sprintf(format, v...), "component", "helm") }
	if err := cfg.Init(flags, ns, "secret", debug); err != nil {
		return nil, fmt.Errorf("helm configuration: %w", err)
	}
	return &Client{cfg: cfg, ns: ns}, nil
}

// Namespace is the namespace of the client's releases.
func (c *Client) Namespace() string { return c.ns }

// ParseRelease reads a workload argument helm/NAME and returns NAME (at most 53 characters,
// Helm's limit).
func ParseRelease(arg string) (string, error) {
	kind, name, ok := strings.Cut(arg, "/")
	if !ok || !strings.EqualFold(kind, "helm") || name == "" || strings.Contains(name, "/") || len(name) > 53 {
		return "", fmt.Errorf("%w %q: want helm/NAME", ErrBadRelease, arg)
	}
	return name, nil
}

// Revision is one revision of a release, as `helm history` shows it.
type Revision struct {
	Number      int
	Updated     time.Time
	Status      release.Status
	Chart       string // name-version
	AppVersion  string
	Description string
	// Images are the container images of the revision's manifest, in order, without repeats.
	Images []string
}

// Image is the revision's images joined with ", ", for reports.
func (r Revision) Image() string { return strings.Join(r.Images, ", ") }

// Pending says whether the revision is in one of the pending-* statuses.
func (r Revision) Pending() bool { return r.Status.IsPending() }

func revision(r *release.Release) Revision {
	v := Revision{Number: r.Version, Images: manifestImages(r.Manifest)}
	if r.Info != nil {
		v.Updated, v.Status, v.Description = r.Info.LastDeployed.Time, r.Info.Status, r.Info.Description
	}
	if r.Chart != nil && r.Chart.Metadata != nil {
		v.Chart, v.AppVersion = r.Chart.Metadata.Name+"-"+r.Chart.Metadata.Version, r.Chart.Metadata.AppVersion
	}
	return v
}

var imageLine = regexp.MustCompile(`(?m)^[\s-]*image:\s*["']?([^"'\s]+)["']?\s*$`)

// manifestImages lists the images of a rendered manifest.
func manifestImages(manifest string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range imageLine.FindAllStringSubmatch(manifest, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	return out
}

// History returns the release's revisions, oldest first.
func (c *Client) History(ctx context.Context, name string) ([]Revision, error) {
	rels, err := c.releases(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make([]Revision, len(rels))
	for i, r := range rels {
		out[i] = revision(r)
	}
	return out, nil
}

// releases returns the stored revisions of the release, oldest first.
func (c *Client) releases(ctx context.Context, name string) ([]*release.Release, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rels, err := c.cfg.Releases.History(name)
	if errors.Is(err, driver.ErrReleaseNotFound) || err == nil && len(rels) == 0 {
		return nil, fmt.Errorf("%w: %s in namespace %s", ErrNotFound, name, c.ns)
	}
	if err != nil {
		return nil, fmt.Errorf("history of helm release %s: %w", name, err)
	}
	sort.Slice(rels, func(i, j int) bool { return rels[i].Version < rels[j].Version })
	return rels, nil
}

// timeout is d, shortened to ctx's deadline: the Helm SDK's waits take a duration, not a context.
func timeout(ctx context.Context, d time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < d || d <= 0 {
			d = left
		}
	}
	if d <= 0 {
		d = time.Millisecond
	}
	return d
}

// ChartValues loads a chart directory (or archive) and merges its values: files first, then
// --set assignments (k=v, Helm's syntax), the later winning as with helm.
func ChartValues(chartPath string, valueFiles, set []string) (*chart.Chart, map[string]any, error) {
	ch, err := loader.Load(chartPath)
	if err != nil {
		return nil, nil, fmt.Errorf("load chart %s: %w", chartPath, err)
	}
	vals := map[string]any{}
	for _, f := range valueFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("values: %w", err)
		}
		m := map[string]any{}
		if err := yaml.Unmarshal(b, &m); err != nil {
			return nil, nil, fmt.Errorf("values file %s: %w", f, err)
		}
		vals = mergeMaps(vals, m)
	}
	for _, s := range set {
		if err := strvals.ParseInto(s, vals); err != nil {
			return nil, nil, fmt.Errorf("--set %s: %w", s, err)
		}
	}
	return ch, vals, nil
}

// mergeMaps merges b into a, recursively for nested maps, b winning (helm's rule for -f files).
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}
