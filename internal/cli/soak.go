package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/runtime/docker"
	"github.com/plimsoll/plimsoll/internal/soak"
	"github.com/plimsoll/plimsoll/internal/store/open"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// soakFlags are the flags of `plimsoll soak`.
type soakFlags struct {
	common
	duration, interval, warmup time.Duration
	resume                     string
	reportDir                  string
	store                      string
	noProgress                 bool
	every                      int
}

func newSoakCmd() *cobra.Command {
	f := &soakFlags{}
	cmd := &cobra.Command{
		Use:   "soak [OLD] NEW | --resume RUN",
		Short: "Run NEW (or OLD and NEW side by side) under load for hours and judge memory, FDs, connections, CPU, health and errors",
		Long: `soak is Layer 6 on its own: the image runs under continuous load for the soak's duration
(policy soak:, or --duration), sampled every interval; every sample goes to the store as it is
taken. Memory, FD and connection trends are judged after the warm-up (Theil–Sen slope with a
confidence bound, projected over the soak); a leak past the stop limit, FDs or connections at
their limit, or sustained health failures stop the soak at once. With OLD, NEW's trends are
compared with OLD's under the same load and limits.

A soak survives plimsoll being killed: its containers keep running, and
plimsoll soak --resume RUN adopts them (or restarts them, saying so) and carries on with the
samples stored so far. One process at a time runs a soak: the one holding its lease in the
store. A resume while the soak's process lives (a second resume, or the first soak still
running) exits 1 naming that process; the lease of a process gone from this host is taken
over at once, that of a process on another host once it expires (2 minutes without renewal).
Each sample round is stored once. Exit codes are check's: 0 GO, 10 CAUTION, 20 NO-GO, 1 when
the soak is held by another process.

` + refHelp,
		Args: rangeArgs(0, 2),
		RunE: func(cmd *cobra.Command, args []string) error { return runSoak(cmd, f, args) },
	}
	f.common.register(cmd)
	fl := cmd.Flags()
	fl.DurationVar(&f.duration, "duration", 0, "how long to soak (default: the policy's soak.duration, else 24h)")
	fl.DurationVar(&f.interval, "interval", 0, "time between samples (default: the policy's, else 60s)")
	fl.DurationVar(&f.warmup, "warmup", 0, "left out of the trends (default: the policy's, else a tenth of the duration, at most 30m)")
	fl.StringVar(&f.resume, "resume", "", "resume the soak of this run after plimsoll was killed")
	fl.StringVar(&f.reportDir, "report-dir", "", "write soak.json and the SVG plots of memory, FDs and health here")
	fl.StringVar(&f.store, "store", "", "where samples go: "+storeHelp)
	fl.BoolVar(&f.noProgress, "no-progress", false, "print no progress to stderr")
	fl.IntVar(&f.every, "progress-every", 10, "without a terminal, print a progress line every N samples")
	return cmd
}

func runSoak(cmd *cobra.Command, f *soakFlags, args []string) error {
	ctx, stderr := cmd.Context(), cmd.ErrOrStderr()
	if (f.resume == "") == (len(args) == 0) {
		return fmt.Errorf("%w: give NEW (or OLD NEW) to start a soak, or --resume RUN, not both", ErrUsage)
	}
	log := f.logger(stderr)
	o := soak.Options{Log: log, KeepLabel: docker.LabelKeepUntil}
	var err error
	if f.resume != "" {
		if err = f.resumeOptions(ctx, &o); err != nil {
			return err
		}
	} else if err = f.startOptions(ctx, &o, args); err != nil {
		return err
	}
	if o.StoreDSN != "none" {
		st, err := open.Open(ctx, o.StoreDSN)
		if err != nil {
			return fmt.Errorf("soak: open the store: %w", err)
		}
		defer st.Close()
		o.Store = st
	}
	rt, err := docker.New(ctx, docker.WithLogger(log), docker.WithCallTimeout(o.App.EngineTimeout))
	if err != nil {
		return err
	}
	defer rt.Close()
	if removed, err := rt.GC(ctx, docker.GCOptions{}); err != nil {
		log.Warn("removing containers of dead runs failed", "err", err)
	} else if len(removed) > 0 {
		log.Info("removed containers of dead runs", "containers", removed)
	}
	o.Runtime, o.Loader, o.Adopt = rt, rt, rt.Adopt
	if !f.noProgress {
		o.Progress = newSoakProgress(stderr, f.every).event
	}
	if o.Store != nil && o.Resume == nil {
		fmt.Fprintf(stderr, "soak %s: if plimsoll is stopped, continue with: plimsoll soak --resume %s\n", o.RunID, o.RunID)
	}
	out, err := soak.Run(ctx, o)
	if errors.Is(err, soak.ErrFinished) {
		return fmt.Errorf("%w: --resume: %v", ErrUsage, err)
	}
	if err != nil {
		if ctx.Err() != nil && o.Store != nil {
			fmt.Fprintf(stderr, "\nsoak %s interrupted; its containers keep running: plimsoll soak --resume %s\n", o.RunID, o.RunID)
		}
		return err
	}
	return finishSoak(cmd.OutOrStdout(), f.reportDir, o.StatePath, out)
}

// startOptions prepares a new soak from the images and the policy.
func (f *soakFlags) startOptions(ctx context.Context, o *soak.Options, args []string) error {
	pol, err := f.policy(ctx)
	if err != nil {
		return err
	}
	sp := pol.Soak
	for _, fl := range []struct {
		v   time.Duration
		dst *time.Duration
	}{{f.duration, &sp.Duration}, {f.interval, &sp.Interval}, {f.warmup, &sp.Warmup}} {
		if fl.v < 0 {
			return fmt.Errorf("%w: negative duration %s", ErrUsage, fl.v)
		}
		if fl.v > 0 {
			*fl.dst = fl.v
		}
	}
	pol.Soak = sp
	if err := pol.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	o.App, o.Soak = pol.App, sp
	o.StoreDSN = storeDSN(f.store)
	if o.StoreDSN != "none" {
		if _, _, err := open.Parse(o.StoreDSN); err != nil {
			return fmt.Errorf("%w: %v", ErrUsage, err)
		}
	}
	if o.New, err = image.Resolve(ctx, args[len(args)-1], f.imageOptions()); err != nil {
		return err
	}
	if len(args) == 2 {
		if o.Old, err = image.Resolve(ctx, args[0], f.imageOptions()); err != nil {
			return err
		}
	}
	o.RunID = "soak-" + newRunID(time.Now())
	if o.StoreDSN != "none" {
		if o.StatePath, err = soak.StatePath(o.RunID); err != nil {
			return err
		}
	}
	return nil
}

// resumeOptions prepares the resumption of a soak from its metadata.
func (f *soakFlags) resumeOptions(ctx context.Context, o *soak.Options) error {
	if f.duration != 0 || f.interval != 0 || f.warmup != 0 || f.policyPath != "" {
		return fmt.Errorf("%w: --resume continues the soak as it was started: no --policy, --duration, --interval or --warmup", ErrUsage)
	}
	path, err := soak.StatePath(f.resume)
	if err != nil {
		return fmt.Errorf("%w: --resume: %v", ErrUsage, err)
	}
	st, err := soak.ReadState(path)
	if errors.Is(err, soak.ErrNoState) {
		return fmt.Errorf("%w: --resume %s: %v", ErrUsage, f.resume, err)
	}
	if err != nil {
		return err
	}
	o.Resume, o.StatePath, o.RunID, o.StoreDSN = st, path, st.RunID, st.Store
	if f.store != "" && f.store != st.Store {
		return fmt.Errorf("%w: --store: the soak's samples are in %q", ErrUsage, st.Store)
	}
	if o.StoreDSN == "none" {
		return fmt.Errorf("%w: --resume: the soak kept no samples", ErrUsage)
	}
	// The images, to restart a container that is gone: only the very same digest will do.
	for name, si := range st.Images {
		img, err := image.Resolve(ctx, si.Ref, f.imageOptions())
		if err != nil || img.Digest.String() != si.Digest {
			continue
		}
		if name == "old" {
			o.Old = img
		} else {
			o.New = img
		}
	}
	return nil
}

// finishSoak judges, prints and records the outcome, and returns the decision as an error
// when it is not GO.
func finishSoak(w io.Writer, reportDir, statePath string, out *soak.Outcome) error {
	results := soak.Results(out)
	v := verdict.Decide(verdict.Policy{Required: []check.Layer{check.L6Soak}, Promotion: "the soak passes"},
		[]verdict.LayerRun{{Layer: check.L6Soak, Ran: true}}, results)
	if reportDir != "" {
		files, err := soak.WritePlots(reportDir, out)
		if err != nil {
			return err
		}
		for i := range results {
			results[i].Data.(*soak.ResultData).Plots = files
		}
		b, err := json.MarshalIndent(struct {
			RunID   string          `json:"runId"`
			Verdict verdict.Verdict `json:"verdict"`
			Results []check.Result  `json:"results"`
			Load    any             `json:"load"`
		}{out.RunID, v, results, out.Load}, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(reportDir, "soak.json"), append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write soak.json: %w", err)
		}
	}
	fmt.Fprintln(w, out.Summary())
	for _, n := range out.Notes {
		fmt.Fprintln(w, "  note:", n)
	}
	for _, r := range results {
		fmt.Fprintf(w, "  %-12s %-12s %s\n", r.Check, strings.ToUpper(r.Status.String()), r.Message)
		if r.Measured != "" {
			fmt.Fprintf(w, "  %-12s %-12s measured: %s\n", "", "", r.Measured)
		}
	}
	fmt.Fprintf(w, "%s: %s\n", v.Decision, v.Summary)
	if statePath != "" {
		if st, err := soak.ReadState(statePath); err == nil {
			st.Decision = string(v.Decision)
			_ = soak.WriteState(statePath, st)
		}
	}
	if v.Decision != verdict.Go {
		d := &DecisionError{Decision: v.Decision, Summary: v.Summary}
		if len(v.Reasons) > 0 {
			d.Reason = v.Reasons[0].String()
		}
		return d
	}
	return nil
}

// soakProgress draws a soak's progress: one live line on a terminal, a plain line every n
// samples elsewhere; news always on a line of its own.
type soakProgress struct {
	w     io.Writer
	tty   bool
	every int
}

func newSoakProgress(w io.Writer, every int) *soakProgress {
	return &soakProgress{w: w, tty: isTerminal(w), every: max(every, 1)}
}

func (p *soakProgress) event(e soak.Progress) {
	if e.Note != "" {
		if p.tty {
			fmt.Fprint(p.w, "\r\033[K")
		}
		fmt.Fprintf(p.w, "soak: %s\n", e.Note)
	}
	if e.Tick == 0 || e.Images == nil {
		return
	}
	line := soakLine(e)
	switch {
	case p.tty:
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		if e.Tick == e.Ticks {
			fmt.Fprintln(p.w)
		}
	case e.Tick%p.every == 0 || e.Tick == e.Ticks:
		fmt.Fprintln(p.w, line)
	}
}

// soakLine is one line of progress: elapsed and remaining, then per image its RSS, projected
// growth, health rate and FDs.
func soakLine(e soak.Progress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "soak %d/%d %s elapsed, %s left", e.Tick, e.Ticks, e.Elapsed.Round(time.Second), e.Remaining.Round(time.Second))
	for _, name := range []string{"new", "old"} {
		s, ok := e.Images[name]
		if !ok {
			continue
		}
		growth := "growth n/a"
		if !math.IsNaN(s.Growth) {
			growth = fmt.Sprintf("growth %+.1f%%", s.Growth)
			if s.Leak {
				growth += " LEAK?"
			}
		}
		fmt.Fprintf(&b, " | %s RSS %.1f MiB %s health %.1f%% fds %.0f", strings.ToUpper(name), s.RSS/(1<<20), growth, s.HealthRate, s.FDs)
	}
	return b.String()
}
