package smoke

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/launch"
)

// both builds the item of a probe from each image's observation (old may be nil).
func both(name string, old, new *observation, f func(*observation) outcome) item {
	it := item{Name: name, New: f(new)}
	if old != nil {
		o := f(old)
		it.Old = &o
	}
	return it
}

// result fills a check.Result from a judgement.
func result(j judgement, items []item, table bool) check.Result {
	r := check.Result{Status: j.status, Message: j.message, Data: items}
	if table && j.status != check.StatusSkipped && len(j.table.Rows) > 0 {
		r.Tables = []check.Table{j.table}
	}
	return r
}

// plural says "1 line", "2 lines".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func oldDetail(it item) string {
	if it.Old == nil {
		return ""
	}
	return cell(*it.Old)
}

// startCheck: the container starts and keeps running once healthy.
type startCheck struct{ s *Session }

func (startCheck) Name() string { return "start" }

func (c startCheck) Run(ctx context.Context, env *check.Env) (check.Result, error) {
	old, new, err := c.s.observe(ctx, env)
	if err != nil {
		return check.Result{}, err
	}
	stay := c.s.smoke.StayUp
	it := both("", old, new, func(o *observation) outcome {
		switch {
		case o.startErr != nil:
			return fail("did not start: %v", o.startErr)
		case o.exit != nil:
			return fail("%s %s%s", launch.DescribeExit(*o.exit), o.exitWhen, o.lastWords(c.s.patterns))
		case o.healthErr != nil:
			return pass("running, though never healthy")
		}
		return pass("running %s after healthy", stay)
	})
	r := result(judge([]item{it}, cell(it.New)), []item{it}, false)
	r.Measured, r.Baseline = cell(it.New), oldDetail(it)
	r.Threshold = fmt.Sprintf("starts and keeps running %s once healthy", stay)
	r.Source = "container state from the runtime"
	return r, nil
}

// healthCheck: the app passes its health probe within the timeout.
type healthCheck struct{ s *Session }

func (healthCheck) Name() string { return "health" }

func (c healthCheck) Run(ctx context.Context, env *check.Env) (check.Result, error) {
	old, new, err := c.s.observe(ctx, env)
	if err != nil {
		return check.Result{}, err
	}
	it := both("", old, new, func(o *observation) outcome {
		switch {
		case o.startErr != nil:
			return fail("never healthy: the container did not start")
		case o.healthErr != nil:
			return fail("never healthy: %v", o.healthErr)
		}
		return pass("healthy in %s", o.healthy.Round(time.Millisecond))
	})
	r := result(judge([]item{it}, cell(it.New)), []item{it}, false)
	timeout := c.s.app.Health.Timeout
	if timeout <= 0 {
		timeout = launch.DefaultHealthTimeout
	}
	r.Measured, r.Baseline = cell(it.New), oldDetail(it)
	r.Threshold = "healthy within " + timeout.String()
	r.Source = new.healthProbe
	if r.Status == check.StatusPass && new.runningOnly {
		// Nothing probed the app itself: "healthy" is only the process still running.
		r.Status = check.StatusWarn
		r.Message = fmt.Sprintf("no health probe: only 'still running' verified (%s); set app.health, app.port or a HEALTHCHECK to probe the app", new.healthProbe)
	}
	return r, nil
}

// logsCheck: no fatal line in the container's output.
type logsCheck struct{ s *Session }

func (logsCheck) Name() string { return "logs" }

func (c logsCheck) Run(ctx context.Context, env *check.Env) (check.Result, error) {
	if c.s.patternErr != nil {
		return check.Result{}, c.s.patternErr
	}
	old, new, err := c.s.observe(ctx, env)
	if err != nil {
		return check.Result{}, err
	}
	// The hits of each observation by pattern, and the patterns in order: NEW's, then OLD's.
	hits := map[*observation]map[string][]launch.LogHit{}
	var order []string
	for _, o := range []*observation{new, old} {
		if o == nil || o.startErr != nil || hits[o] != nil {
			continue
		}
		if o.logsErr != nil {
			return check.Result{}, fmt.Errorf("read the container's output: %w", o.logsErr)
		}
		byPattern := map[string][]launch.LogHit{}
		for _, h := range launch.ScanLogs(o.logs, c.s.patterns) {
			if byPattern[h.Pattern] == nil && !slices.Contains(order, h.Pattern) {
				order = append(order, h.Pattern)
			}
			byPattern[h.Pattern] = append(byPattern[h.Pattern], h)
		}
		hits[o] = byPattern
	}
	items := make([]item, len(order))
	for i, p := range order {
		items[i] = both(p, old, new, func(o *observation) outcome {
			if o.startErr != nil {
				return skip("no output: the container did not start")
			}
			hs := hits[o][p]
			switch len(hs) {
			case 0:
				return pass("none")
			case 1:
				return fail("line %d: %q", hs[0].Line, hs[0].Text)
			}
			return fail("line %d: %q (and %d more)", hs[0].Line, hs[0].Text, len(hs)-1)
		})
	}
	measure := func(o *observation) string {
		switch {
		case o == nil:
			return ""
		case o.startErr != nil:
			return "no output: the container did not start"
		}
		n := 0
		for _, hs := range hits[o] {
			n += len(hs)
		}
		return fmt.Sprintf("%s in %s of output", plural(n, "fatal line"), plural(strings.Count(strings.TrimRight(string(o.logs), "\n"), "\n")+1, "line"))
	}
	var j judgement
	switch {
	case len(items) > 0:
		j = judge(items, "no fatal line in NEW's output")
	case new.startErr != nil:
		j = judgement{status: check.StatusSkipped, message: "not run on NEW: no output, the container did not start"}
	default:
		j = judgement{status: check.StatusPass, message: "no fatal line in the output"}
	}
	r := result(j, items, true)
	r.Measured, r.Baseline = measure(new), measure(old)
	r.Threshold = fmt.Sprintf("no line matching %s", strings.Join(append(launch.BuiltinPatterns(), c.s.smoke.LogPatterns...), ", "))
	r.Source = "container output (stdout and stderr) from the start until after the smoke requests"
	return r, nil
}

// binariesCheck: the policy's binaries are in the image and executable.
type binariesCheck struct{ s *Session }

func (binariesCheck) Name() string { return "binaries" }

func (c binariesCheck) Run(ctx context.Context, env *check.Env) (check.Result, error) {
	bins := c.s.smoke.Binaries
	if len(bins) == 0 {
		return check.Result{Status: check.StatusSkipped, Message: "no binaries configured (smoke.binaries)"}, nil
	}
	newOut, err := inspectBinaries(ctx, env.New, bins)
	if err != nil {
		return check.Result{}, fmt.Errorf("NEW: %w", err)
	}
	var oldOut []outcome
	if env.Old != nil {
		if oldOut, err = inspectBinaries(ctx, env.Old, bins); err != nil {
			return check.Result{}, fmt.Errorf("OLD: %w", err)
		}
	}
	items := make([]item, len(bins))
	for i, b := range bins {
		items[i] = item{Name: b, New: newOut[i]}
		if oldOut != nil {
			items[i].Old = &oldOut[i]
		}
	}
	j := judge(items, fmt.Sprintf("all %d present and executable", len(bins)))
	r := result(j, items, true)
	r.Measured, r.Baseline = tally(items, false, "present and executable"), tally(items, true, "present and executable")
	r.Threshold = "each present, a regular file, and executable"
	r.Source = "the image's filesystem (layers flattened, links followed)"
	return r, nil
}

// requestsCheck: the policy's requests answer as expected.
type requestsCheck struct{ s *Session }

func (requestsCheck) Name() string { return "requests" }

func (c requestsCheck) Run(ctx context.Context, env *check.Env) (check.Result, error) {
	reqs := c.s.smoke.Requests
	if len(reqs) == 0 {
		return check.Result{Status: check.StatusSkipped, Message: "no requests configured (smoke.requests)"}, nil
	}
	old, new, err := c.s.observe(ctx, env)
	if err != nil {
		return check.Result{}, err
	}
	items := make([]item, len(reqs))
	for i, r := range reqs {
		items[i] = both(requestName(r), old, new, func(o *observation) outcome {
			if o.requests == nil {
				return skip("the app is not running (see start)")
			}
			return o.requests[i]
		})
	}
	j := judge(items, fmt.Sprintf("all %d answered as expected", len(reqs)))
	r := result(j, items, true)
	r.Measured, r.Baseline = tally(items, false, "as expected"), tally(items, true, "as expected")
	r.Threshold = fmt.Sprintf("status and body as the policy says, each within %s; one timeout is CAUTION", c.s.requestTimeout)
	if new.endpoint != "" {
		r.Source = "HTTP to " + new.endpoint
	}
	return r, nil
}

// dependenciesCheck: the services the app needs are reachable from its network.
type dependenciesCheck struct{ s *Session }

func (dependenciesCheck) Name() string { return "dependencies" }

func (c dependenciesCheck) Run(ctx context.Context, env *check.Env) (check.Result, error) {
	deps := c.s.deps
	switch {
	case len(deps) == 0:
		return check.Result{Status: check.StatusSkipped, Message: "no dependencies configured (smoke.dependencies)"}, nil
	}
	old, new, err := c.s.observe(ctx, env)
	if err != nil {
		return check.Result{}, err
	}
	// A sidecar that is not serving fails its dependency on both images alike: neither is to
	// blame, and without OLD nothing can be told.
	faults := c.s.sidecarFaults()
	if len(faults) > 0 && old == nil {
		var msgs []string
		for i := range deps {
			if f := faults[i]; f != nil {
				msgs = append(msgs, f.Error())
			}
		}
		return check.Result{}, fmt.Errorf("%w: %s", ErrSidecar, strings.Join(msgs, "; "))
	}
	items := make([]item, len(deps))
	for i, d := range deps {
		items[i] = both(dependencyName(d), old, new, func(o *observation) outcome {
			switch {
			case faults[i] != nil:
				return fail("%v", faults[i])
			case o.deps == nil:
				return skip("the app is not running (see start)")
			}
			return o.deps[i]
		})
	}
	j := judge(items, fmt.Sprintf("all %d reachable", len(deps)))
	r := result(j, items, true)
	r.Measured, r.Baseline = tally(items, false, "reachable"), tally(items, true, "reachable")
	r.Threshold = fmt.Sprintf("TCP connect within %s", DialTimeout)
	if n := sidecarCount(deps); n > 0 {
		r.Threshold += fmt.Sprintf("; %s started once on the host's network, each listening within its ready time", plural(n, "sidecar"))
	}
	r.Source = "dialled from inside the app container's network namespace"
	if c.s.app.HostNetwork {
		r.Source = "dialled from the host's network namespace, which the app shares (app.hostNetwork)"
	}
	return r, nil
}

// sidecarCount says how many dependencies are sidecars.
func sidecarCount(deps []config.Dependency) int {
	n := 0
	for _, d := range deps {
		if d.Sidecar.IsSet() {
			n++
		}
	}
	return n
}
