package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/incident"
	"github.com/plimsoll/plimsoll/internal/kube"
	"github.com/plimsoll/plimsoll/internal/metrics"
	"github.com/plimsoll/plimsoll/internal/rollout"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/open"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// rolloutOpts are the flags of plimsoll rollout.
type rolloutOpts struct {
	kube            kube.ClientOptions
	image           string
	strategy        string
	steps           []int
	pause           time.Duration
	router          string
	prometheus      string
	webhooks        []string
	interval        time.Duration
	readyTimeout    time.Duration
	maxInconclusive int
	container       string
	revert          bool
	finish          bool
	dsn             string
	incidentDir     string
	verbose         bool
	fb              fallbackFlags
}

func newRolloutCmd() *cobra.Command {
	var o rolloutOpts
	cmd := &cobra.Command{
		Use:   "rollout deploy/NAME --image IMAGE",
		Short: "Carry a new image to production progressively: canary or blue/green, with metric gates",
		Long: `rollout moves deploy/NAME to a new image step by step and backs out on the first gate breach.

canary     a Deployment NAME-canary runs the new image; the router (--router httproute/R
           or ingress/R) gives it --steps percent of the traffic in turn, each held --pause
           while the gates pass; then the primary gets the new template and the canary goes.
bluegreen  NAME-canary (green) starts at full size beside NAME (blue), is checked
           (--webhook), then Service NAME (or --router service/S) switches to it; blue stays
           scaled. --revert switches back at once, as does a gate breach after the switch.
           --finish makes it permanent: NAME gets green's pod spec and, once rolled out,
           the traffic again; green goes to zero and the next rollout can begin.

Gates: --prometheus URL adds request success rate >= 99 % and p99 latency <= 500 ms, canary
against primary; --webhook URL (repeatable) POSTs the target as JSON, 2xx passes. A gate
without data is inconclusive: the step holds, and --max-inconclusive in a row abort.
On a breach the traffic goes back to the primary first, then the canary is scaled to zero,
then an incident is recorded (--store, and Markdown in --incident-dir).

The policy's delivery.rollout section (--policy) gives the defaults of --steps, --pause,
--interval, --ready-timeout, --max-inconclusive, --prometheus and --webhook (a flag given
wins), and may list gates of its own: PromQL templates over {{.Namespace}}, {{.Canary}},
{{.Primary}} and {{.Weight}} with a min or max, which replace the two default gates.

` + fallbackHelp + `
A canary that cannot pull its image aborts at once unless the fallback applies a replacement.

Exit codes: 0 promoted (or reverted with --revert), 20 aborted (traffic on the primary),
1 error, 2 usage, 130 interrupted (the traffic is put back on the primary and the canary
scaled to zero first, and an incident recorded).`,
		Args: rangeArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error { return runRollout(cmd, args[0], o) },
	}
	fl := cmd.Flags()
	fl.StringVar(&o.kube.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
	fl.StringVar(&o.kube.Context, "context", "", "kubeconfig context")
	fl.StringVarP(&o.kube.Namespace, "namespace", "n", "", "namespace (default: the context's)")
	fl.StringVar(&o.image, "image", "", "the new image")
	fl.StringVar(&o.strategy, "strategy", string(rollout.Canary), "canary or bluegreen")
	fl.IntSliceVar(&o.steps, "steps", rollout.DefaultSteps, "canary traffic weights in percent, the last 100")
	fl.DurationVar(&o.pause, "pause", 30*time.Second, "how long each step is held with the gates passing")
	fl.StringVar(&o.router, "router", "", "httproute/NAME or ingress/NAME (canary); service/NAME (bluegreen, default service/<deployment>)")
	fl.StringVar(&o.prometheus, "prometheus", "", "Prometheus URL for the default metric gates")
	fl.StringSliceVar(&o.webhooks, "webhook", nil, "webhook gate URL (repeatable); blue/green runs them before the switch too")
	fl.DurationVar(&o.interval, "interval", 10*time.Second, "how often the canary and the gates are observed")
	fl.DurationVar(&o.readyTimeout, "ready-timeout", 5*time.Minute, "abort when the canary is not Ready this long after scaling")
	fl.IntVar(&o.maxInconclusive, "max-inconclusive", 3, "abort after this many inconclusive gate evaluations in a row")
	fl.StringVar(&o.container, "container", "", "the container whose image changes (default: the only one)")
	fl.BoolVar(&o.revert, "revert", false, "send all traffic back to the primary and scale the canary (green) to zero")
	fl.BoolVar(&o.finish, "finish", false, "blue/green: give blue green's pod spec, switch back to it once rolled out, scale green to zero")
	fl.StringVar(&o.dsn, "store", "", "where incidents are recorded: "+storeHelp)
	fl.StringVar(&o.incidentDir, "incident-dir", "", "write each incident's Markdown report into this directory")
	fl.BoolVarP(&o.verbose, "verbose", "v", false, "log diagnostics to stderr")
	o.fb.register(cmd)
	return cmd
}

func runRollout(cmd *cobra.Command, arg string, o rolloutOpts) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	name, err := kube.ParseDeployment(arg)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	switch {
	case o.revert && o.finish:
		return fmt.Errorf("%w: --revert or --finish, not both", ErrUsage)
	case o.finish && o.strategy != string(rollout.BlueGreen):
		return fmt.Errorf("%w: --finish is for --strategy bluegreen (a canary finishes by itself)", ErrUsage)
	case (o.revert || o.finish) && o.image != "":
		return fmt.Errorf("%w: --image goes with a new rollout, not --revert or --finish", ErrUsage)
	case o.image == "" && !o.revert && !o.finish:
		return fmt.Errorf("%w: --image is required", ErrUsage)
	}
	pol, err := o.fb.policy(cmd.Context())
	if err != nil {
		return err
	}
	policyGates := o.fromPolicy(cmd.Flags(), pol.Delivery.Rollout)
	if o.interval <= 0 {
		return fmt.Errorf("%w: --interval %s: want a positive duration", ErrUsage, o.interval)
	}
	plan := rollout.Plan{Strategy: rollout.Strategy(o.strategy), Steps: o.steps, Pause: o.pause,
		ReadyTimeout: o.readyTimeout, MaxInconclusive: o.maxInconclusive, Replicas: 1}
	if plan.Strategy == rollout.BlueGreen {
		if cmd.Flags().Changed("steps") {
			return fmt.Errorf("%w: --steps is for canary; blue/green switches all at once", ErrUsage)
		}
		plan.Steps = []int{0, 100}
	}
	if err := plan.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	kindName := o.router
	if kindName == "" && plan.Strategy == rollout.BlueGreen {
		kindName = "service/" + name
	}
	routerKind, routerName, _ := strings.Cut(kindName, "/")
	switch {
	case kindName == "":
		return fmt.Errorf("%w: --router httproute/NAME or ingress/NAME is required for a canary", ErrUsage)
	case routerName == "":
		return fmt.Errorf("%w: --router %q: want KIND/NAME", ErrUsage, kindName)
	case plan.Strategy == rollout.BlueGreen && routerKind != "service":
		return fmt.Errorf("%w: --router %q: blue/green switches a service/NAME", ErrUsage, kindName)
	case plan.Strategy == rollout.Canary && routerKind != "httproute" && routerKind != "ingress":
		return fmt.Errorf("%w: --router %q: a canary is routed by httproute/NAME or ingress/NAME", ErrUsage, kindName)
	}

	log := (&common{verbose: o.verbose}).logger(cmd.ErrOrStderr())
	fbs, err := o.fb.setup(pol, o.dsn, log)
	if err != nil {
		return err
	}
	httpc := &http.Client{Timeout: 10 * time.Second}
	var gates, pre []metrics.Gate
	switch {
	case o.prometheus != "":
		prom, err := metrics.NewPrometheus(o.prometheus, httpc)
		if err != nil {
			return fmt.Errorf("%w: --prometheus: %v", ErrUsage, err)
		}
		if gates, err = queryGates(prom, policyGates); err != nil {
			return fmt.Errorf("%w: %v", ErrUsage, err)
		}
	case len(policyGates) > 0:
		return fmt.Errorf("%w: the policy's delivery.rollout.gates need a Prometheus: --prometheus or delivery.rollout.prometheus", ErrUsage)
	}
	for i, u := range o.webhooks {
		wh, err := metrics.NewWebhook("webhook-"+strconv.Itoa(i+1), u, httpc)
		if err != nil {
			return fmt.Errorf("%w: --webhook: %v", ErrUsage, err)
		}
		gates, pre = append(gates, wh), append(pre, wh)
	}

	cfg, ns, err := o.kube.Config()
	if err != nil {
		return err
	}
	// A round is a few requests; client-go's default 5 QPS would delay an abort at short
	// intervals.
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	wl := &rollout.Deployments{Client: cs, Namespace: ns, Name: name, Container: o.container}
	var router rollout.Router
	switch routerKind {
	case "httproute":
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return fmt.Errorf("kubernetes client: %w", err)
		}
		router = &rollout.HTTPRoute{Dynamic: dyn, Client: cs, Namespace: ns, Name: routerName}
	case "ingress":
		router = &rollout.NginxIngress{Client: cs, Namespace: ns, Name: routerName}
	default:
		router = &rollout.ServiceSelector{Client: cs, Namespace: ns, Name: routerName}
	}
	d := rollout.Deps{
		Workload: wl, Router: router, Gates: gates, PreSwitch: pre,
		Target:   metrics.Target{Namespace: ns, Canary: wl.CanaryName(), Primary: name},
		Incident: store.Incident{Namespace: ns, Workload: "deploy/" + name},
		Progress: func(t rollout.Tick) { printTick(out, t) },
		Fallback: fbs.onPull(rolloutAdvice),
		Logger:   log,
	}

	var s rollout.State
	if o.revert {
		d.Incident.Kind = store.IncidentRollback
		primary, canary, err := wl.Images(ctx)
		if err != nil {
			return err
		}
		d.Incident.FromImage, d.Incident.ToImage = canary, primary
		s = rollout.Revert(plan, "revert requested")
		fmt.Fprintf(out, "reverting %s/%s: all traffic to the primary, canary to 0\n", ns, name)
	} else if o.finish {
		if s, err = rollout.Finish(ctx, d, plan, time.Now()); err != nil {
			return err
		}
		fmt.Fprintf(out, "finishing %s/%s: blue gets green's pod spec, then the traffic; green to 0\n", ns, name)
	} else {
		if o.image, err = fbs.verify(ctx, out, o.image, rolloutAdvice); err != nil {
			return err
		}
		info, err := rollout.Begin(ctx, d, o.image)
		if err != nil {
			if errors.Is(err, rollout.ErrUnsupported) {
				return fmt.Errorf("%w: %v", ErrUsage, err)
			}
			return err
		}
		plan.Replicas = info.Replicas
		d.Incident.FromImage, d.Incident.ToImage = o.image, info.Image
		s = rollout.Start(plan)
		fmt.Fprintf(out, "rollout of %s/%s: %s → %s, %s, steps %v, pause %s, router %s\n",
			ns, name, info.Image, o.image, plan.Strategy, plan.Steps, plan.Pause, kindName)
	}
	ticker := time.NewTicker(o.interval)
	defer ticker.Stop()
	res, err := rollout.Run(ctx, ticker.C, d, s)
	interrupted := errors.Is(err, context.Canceled) && !o.revert && !o.finish && !res.State.Phase.Done() && res.State.Phase != rollout.Promoting
	if interrupted {
		// Interrupted with the canary live: put the traffic back on the primary before
		// exiting, as a breach would, whatever the context says now.
		st := res.State
		fmt.Fprintf(out, "interrupted at step %d/%d (weight %d%%): traffic back to %s, canary to 0\n", st.Step+1, len(st.Plan.Steps), st.Weight, name)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		res, err = rollout.Run(rctx, ticker.C, d, rollout.Revert(plan, fmt.Sprintf("rollout interrupted at step %d/%d, weight %d%%", st.Step+1, len(st.Plan.Steps), st.Weight)))
		cancel()
	}
	var saveErr error
	if res.Incident != nil {
		saveErr = saveIncident(cmd, o, *res.Incident)
		err = errors.Join(err, saveErr)
	}
	switch {
	case interrupted && res.State.Phase == rollout.Aborted:
		fmt.Fprintf(out, "reverted: all traffic on %s\n", name)
		return errors.Join(context.Canceled, saveErr)
	case interrupted:
		return errors.Join(context.Canceled, err)
	case o.revert && errors.Is(err, rollout.ErrAborted) && res.State.Phase == rollout.Aborted:
		fmt.Fprintf(out, "reverted: all traffic on %s\n", name)
		return nil
	case errors.Is(err, rollout.ErrAborted):
		fmt.Fprintf(out, "ABORTED: %s\n", res.State.Reason)
		if res.BreachToWeightZero > 0 {
			fmt.Fprintf(out, "traffic back on the primary %s after the breach was observed\n", res.BreachToWeightZero.Round(time.Millisecond))
		}
		return &DecisionError{Decision: verdict.NoGo, Summary: "rollout aborted", Reason: res.State.Reason}
	case err != nil:
		return err
	}
	img := o.image
	if res.FallbackImage != "" {
		img = res.FallbackImage
	}
	if o.finish {
		fmt.Fprintf(out, "FINISHED: %s selects %s again, which runs green's pod spec; %s scaled to 0\n", kindName, name, wl.CanaryName())
		return nil
	}
	if plan.Strategy == rollout.BlueGreen {
		fmt.Fprintf(out, "PROMOTED: %s now selects %s (%s); %s keeps its %d pods for --revert\n", kindName, wl.CanaryName(), img, name, plan.Replicas)
		return nil
	}
	fmt.Fprintf(out, "PROMOTED: %s/%s runs %s\n", ns, name, img)
	return nil
}

// fromPolicy takes the policy's delivery.rollout values for the flags not given, and returns
// its gates.
func (o *rolloutOpts) fromPolicy(fl *pflag.FlagSet, r config.Rollout) []config.Gate {
	set := func(flag string, ok bool, apply func()) {
		if ok && !fl.Changed(flag) {
			apply()
		}
	}
	// The policy's steps are a canary's; blue/green always switches at once.
	set("steps", len(r.Steps) > 0 && o.strategy == string(rollout.Canary), func() { o.steps = r.Steps })
	set("pause", r.Pause > 0, func() { o.pause = r.Pause })
	set("interval", r.Interval > 0, func() { o.interval = r.Interval })
	set("ready-timeout", r.ReadyTimeout > 0, func() { o.readyTimeout = r.ReadyTimeout })
	set("max-inconclusive", r.MaxInconclusive > 0, func() { o.maxInconclusive = r.MaxInconclusive })
	set("prometheus", r.Prometheus != "", func() { o.prometheus = r.Prometheus })
	set("webhook", len(r.Webhooks) > 0, func() { o.webhooks = r.Webhooks })
	return r.Gates
}

// queryGates are the policy's gates on prom, or the default gates when it lists none.
func queryGates(prom metrics.Provider, gs []config.Gate) ([]metrics.Gate, error) {
	if len(gs) == 0 {
		return metrics.DefaultGates(prom)
	}
	out := make([]metrics.Gate, 0, len(gs))
	for _, g := range gs {
		op, bound := metrics.AtLeast, g.Min
		if g.Max != nil {
			op, bound = metrics.AtMost, g.Max
		}
		qg, err := metrics.NewQueryGate(g.Name, prom, g.Query, g.PrimaryQuery, op, *bound)
		if err != nil {
			return nil, err
		}
		out = append(out, qg)
	}
	return out, nil
}

// printTick prints one round: the step, what was done and every gate's values.
func printTick(w io.Writer, t rollout.Tick) {
	s := t.State
	step := ""
	if s.Phase == rollout.Progressing {
		step = fmt.Sprintf(" step %d/%d", s.Step+1, len(s.Plan.Steps))
	}
	fmt.Fprintf(w, "%s %s%s weight %d%%", t.Time.UTC().Format("15:04:05.000"), s.Phase, step, s.Weight)
	for _, a := range t.Actions {
		if a.Kind != rollout.RecordEvent {
			fmt.Fprintf(w, " %s", a)
		}
	}
	fmt.Fprintln(w)
	for _, m := range t.Gates {
		fmt.Fprintf(w, "    %s\n", m)
	}
	for _, a := range t.Actions {
		if a.Kind == rollout.RecordEvent {
			fmt.Fprintf(w, "    %s\n", a.Message)
		}
	}
}

// saveIncident puts inc in the store (unless --store none) and its Markdown in --incident-dir.
func saveIncident(cmd *cobra.Command, o rolloutOpts, inc store.Incident) error {
	out := cmd.OutOrStdout()
	var errs []error
	if o.incidentDir != "" {
		path := filepath.Join(o.incidentDir, inc.ID+".md")
		err := os.MkdirAll(o.incidentDir, 0o755)
		if err == nil {
			err = os.WriteFile(path, []byte(incident.Markdown(inc)), 0o644)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("writing the incident report: %w", err))
		} else {
			fmt.Fprintf(out, "incident report: %s\n", path)
		}
	}
	if dsn := storeDSN(o.dsn); dsn != "none" {
		// The incident must be kept even when the rollout's context was interrupted.
		ctx := context.WithoutCancel(cmd.Context())
		st, err := open.Open(ctx, dsn)
		if err == nil {
			err = st.PutIncident(ctx, inc)
			err = errors.Join(err, st.Close())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("recording incident %s: %w", inc.ID, err))
		} else {
			fmt.Fprintf(out, "incident %s recorded\n", inc.ID)
		}
	}
	return errors.Join(errs...)
}
