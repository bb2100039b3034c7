package docker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/plimsoll/plimsoll/internal/runtime"
)

// LabelKeepUntil, set through runtime.Spec.Labels to an RFC 3339 time, keeps GC from removing
// a container whose owner died before that time: a soak outlives the plimsoll process that
// started it when that process is killed, and `plimsoll soak --resume` adopts the container
// again. It is outside the reserved "plimsoll." keys so that a Spec may set it; GC still
// removes such a container once the time has passed, or when its run is named.
const LabelKeepUntil = "plimsoll-keep-until"

// GCOptions says which plimsoll containers GC removes besides those of dead runs.
type GCOptions struct {
	// RunIDs are runs whose containers are removed whatever their owner's state.
	RunIDs []string
}

// GC removes the containers plimsoll left behind: those labelled runtime.LabelRun whose
// owning plimsoll process (LabelPID on this host, LabelHost) is no longer alive, and those
// of the runs opts names. Containers of other hosts sharing the engine are left alone unless
// named. It returns the IDs it removed; on error, those removed so far.
func (r *Runtime) GC(ctx context.Context, opts GCOptions) ([]string, error) {
	list, err := r.plimsollContainers(ctx, "")
	if err != nil {
		return nil, err
	}
	var doomed []container.Summary
	for _, c := range list {
		if slices.Contains(opts.RunIDs, c.Labels[runtime.LabelRun]) || r.orphaned(c.Labels) {
			doomed = append(doomed, c)
		}
	}
	return r.remove(ctx, doomed)
}

// StopRun removes every container of run runID at once (no grace period): the cleanup path
// of an interrupted run, which also finds containers an interrupted Start could not report.
// Pass a context that is not cancelled (context.WithoutCancel). It returns the IDs it removed.
func (r *Runtime) StopRun(ctx context.Context, runID string) ([]string, error) {
	list, err := r.plimsollContainers(ctx, runID)
	if err != nil {
		return nil, err
	}
	return r.remove(ctx, list)
}

// plimsollContainers lists plimsoll's containers, all runs when runID is "".
func (r *Runtime) plimsollContainers(ctx context.Context, runID string) ([]container.Summary, error) {
	label := runtime.LabelRun
	if runID != "" {
		label += "=" + runID
	}
	res, err := r.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", label)})
	if err != nil {
		return nil, fmt.Errorf("list plimsoll containers: %w", r.engineErr(err))
	}
	return res.Items, nil
}

// remove force-removes containers, carrying on past failures.
func (r *Runtime) remove(ctx context.Context, list []container.Summary) ([]string, error) {
	var removed []string
	var errs []error
	for _, c := range list {
		_, err := r.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove container %.12s: %w", c.ID, r.engineErr(err)))
			continue
		}
		for _, n := range c.Names {
			r.track.Removed(strings.TrimPrefix(n, "/"))
		}
		r.log.Debug("removed leftover container", "id", c.ID, "run", c.Labels[runtime.LabelRun])
		removed = append(removed, c.ID)
	}
	return removed, errors.Join(errs...)
}

// orphaned reports whether a container's labels name an owner on this host that is gone, and
// no LabelKeepUntil in the future keeps it. Unreadable labels keep the container: GC never
// guesses.
func (r *Runtime) orphaned(labels map[string]string) bool {
	if v, ok := labels[LabelKeepUntil]; ok {
		until, err := time.Parse(time.RFC3339Nano, v)
		if err != nil || time.Now().Before(until) {
			return false
		}
	}
	return runtime.OwnerGone(labels, r.owner.host)
}

// Adopt returns the container of run runID with role role, started by an earlier plimsoll
// process (a soak resumed after that process was killed), as an Instance of this runtime. The
// container may have exited: State tells. No such container is an error wrapping
// runtime.ErrRemoved; more than one is an error.
func (r *Runtime) Adopt(ctx context.Context, runID, role string) (runtime.Instance, error) {
	list, err := r.plimsollContainers(ctx, runID)
	if err != nil {
		return nil, err
	}
	var found []container.Summary
	for _, c := range list {
		if c.Labels[runtime.LabelRole] == role {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("adopt %s of run %s: %w", role, runID, runtime.ErrRemoved)
	case 1:
	default:
		return nil, fmt.Errorf("adopt %s of run %s: %d containers have that role", role, runID, len(found))
	}
	res, err := r.cli.ContainerInspect(ctx, found[0].ID, client.ContainerInspectOptions{})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("adopt %s of run %s: %w", role, runID, runtime.ErrRemoved)
		}
		return nil, fmt.Errorf("adopt %s of run %s: %w", role, runID, r.engineErr(err))
	}
	c := res.Container
	name := strings.TrimPrefix(c.Name, "/")
	in := &instance{r: r, id: c.ID, name: name, ports: map[int]bool{}}
	if c.HostConfig != nil {
		in.hostNetwork = c.HostConfig.NetworkMode == network.NetworkHost
		for p := range c.HostConfig.PortBindings {
			if p.Proto() == network.TCP {
				in.ports[int(p.Num())] = true
			}
		}
	}
	r.log.Debug("container adopted", "container", name, "id", c.ID)
	return in, nil
}
