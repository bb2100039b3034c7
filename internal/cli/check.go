package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/check/imagediff"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/gate"
	"github.com/plimsoll/plimsoll/internal/kube"
	"github.com/plimsoll/plimsoll/internal/plan"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/scan/grype"
	"github.com/plimsoll/plimsoll/internal/scan/reportjson"
	syftscan "github.com/plimsoll/plimsoll/internal/scan/syft"
	"github.com/plimsoll/plimsoll/internal/store/open"
	"github.com/plimsoll/plimsoll/internal/timing"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// checkFlags are the flags of `plimsoll check`.
type checkFlags struct {
	common
	layers     []string
	budget     time.Duration
	soak       time.Duration
	reportDir  string
	sbomDir    string
	vulnDB     string
	oldVulns   string
	newVulns   string
	format     string
	noProgress bool
	store      string
	// runtime and kube say where Layers 2 to 6 run: --runtime, and kubectl's client flags.
	runtime string
	kube    kube.ClientOptions
}

func newCheckCmd() *cobra.Command {
	f := &checkFlags{}
	cmd := &cobra.Command{
		Use:   "check [OLD] NEW",
		Short: "Decide whether NEW may replace OLD: plan, run the layers, verdict, reports",
		Long: `check classifies the upgrade from OLD to NEW, runs the layers the risk calls for against
both images and decides GO / CAUTION / NO-GO with the evidence behind every reason.
With NEW alone it judges a first deployment.

` + refHelp,
		Args: rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error { return runCheck(cmd, f, args) },
	}
	f.common.register(cmd)
	fl := cmd.Flags()
	fl.StringSliceVar(&f.layers, "layers", nil, "run exactly these layers, by number or name (e.g. 1,5 or diff,harden)")
	fl.DurationVar(&f.budget, "budget", 0, "time budget for the whole run (default: the plan's)")
	fl.DurationVar(&f.soak, "soak", 0, "how long Layer 6 soaks, when it runs (default: the policy's soak.duration, else the plan's minimum soak)")
	fl.StringVar(&f.reportDir, "report-dir", "", "write summary.json, junit.xml, summary.md, summary.txt, report.html and vulnerabilities.sarif here")
	fl.StringVar(&f.sbomDir, "sbom-dir", "", "write both images' SBOMs here as SPDX and CycloneDX JSON")
	fl.StringVar(&f.vulnDB, "vuln-db", "", "grype database directory (default: the policy's, else grype's own: "+grype.DefaultDBDir()+")")
	fl.StringVar(&f.oldVulns, "old-vulns", "", "use this grype or Trivy JSON report for OLD's vulnerabilities instead of the database")
	fl.StringVar(&f.newVulns, "new-vulns", "", "use this grype or Trivy JSON report for NEW's vulnerabilities instead of the database")
	fl.StringVarP(&f.format, "output", "o", "text", "what to print: text, json or markdown")
	fl.BoolVar(&f.noProgress, "no-progress", false, "print no progress to stderr")
	fl.StringVar(&f.store, "store", "", storeHelp)
	fl.StringVar(&f.runtime, "runtime", "", "where Layers 2-6 run the images: docker or kubernetes (default: the policy's runtime.engine, else docker)")
	kubeClientFlags(cmd, &f.kube)
	return cmd
}

func runCheck(cmd *cobra.Command, f *checkFlags, args []string) error {
	enc, err := report.Lookup(f.format)
	if err != nil || (f.format != "text" && f.format != "json" && f.format != "markdown") {
		return fmt.Errorf("%w: --output %q: use text, json or markdown (--report-dir writes every format)", ErrUsage, f.format)
	}
	if f.runtime != "" && !slices.Contains(config.Engines, f.runtime) {
		return fmt.Errorf("%w: --runtime %q: use %s", ErrUsage, f.runtime, strings.Join(config.Engines, " or "))
	}
	layers, err := parseLayers(f.layers)
	if err != nil {
		return err
	}
	pol, err := f.policy(cmd.Context())
	if err != nil {
		return err
	}
	switch {
	case f.soak < 0:
		return fmt.Errorf("%w: --soak %s is negative", ErrUsage, f.soak)
	case f.soak > 0:
		pol.Soak.Duration = f.soak
	}
	if dsn := storeDSN(f.store); dsn != "none" {
		if _, _, err := open.Parse(dsn); err != nil {
			return fmt.Errorf("%w: %v", ErrUsage, err)
		}
	}
	oldRef, newRef := "", args[len(args)-1]
	if len(args) == 2 {
		oldRef = args[0]
	}
	stderr := cmd.ErrOrStderr()
	log, runID := f.logger(stderr), newRunID(time.Now())
	comp, err := newComposer(f, pol, runID, log)
	if err != nil {
		return err
	}
	defer comp.close(cmd.Context())
	req := gate.Request{
		Old: oldRef, New: newRef, Policy: pol, Layers: layers, HotfixCVEs: f.hotfix, Budget: f.budget,
		Images: f.imageOptions(), CacheDir: f.cacheDir(),
		Checks:  func(s gate.Setup) gate.Layers { return comp.layers(cmd.Context(), s) },
		Log:     log,
		RunID:   runID,
		Tool:    report.Tool{Name: "plimsoll", Version: Version()},
		Timings: &timing.Recorder{},
	}
	if !f.noProgress {
		req.Emit = newProgress(stderr).event
	}
	rep, stopped := gate.Check(cmd.Context(), req)
	if rep == nil {
		return stopped
	}
	// A run stopped by a signal (stopped != nil) still reports and records its ERROR verdict.
	if enc.Format() == "text" && isTerminal(cmd.OutOrStdout()) {
		enc = report.Text{Color: true}
	}
	stop := req.Timings.Start(timing.Encode)
	err = enc.Encode(cmd.OutOrStdout(), rep)
	stop()
	if err != nil {
		return err
	}
	rep.Timings = report.TimingsOf(req.Timings) // now with the report just printed
	if f.reportDir != "" {
		if _, err := report.WriteDir(f.reportDir, rep); err != nil {
			return fmt.Errorf("write reports: %w", err)
		}
	}
	if err := record(cmd.Context(), storeDSN(f.store), rep); err != nil {
		// The verdict stands without its record: say so, and go on.
		fmt.Fprintf(stderr, "plimsoll: warning: run %s not recorded: %v\n", rep.RunID, err)
	}
	if stopped != nil {
		return stopped
	}
	if rep.Verdict.Decision != verdict.Go {
		d := &DecisionError{Decision: rep.Verdict.Decision, Summary: rep.Verdict.Summary}
		if len(rep.Verdict.Reasons) > 0 {
			d.Reason = rep.Verdict.Reasons[0].String()
		}
		return d
	}
	return nil
}

// record keeps the run in the store named by dsn ("none": nowhere).
func record(ctx context.Context, dsn string, rep *report.Report) error {
	if dsn == "none" {
		return nil
	}
	st, err := open.Open(context.WithoutCancel(ctx), dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	return st.PutRun(context.WithoutCancel(ctx), rep)
}

// layerOne returns a builder of Layer 1's checks for a plan, with the scanners chosen here.
func (f *checkFlags) layerOne(pol *config.Policy) (func(plan.Plan) []check.Check, error) {
	dbDir := f.vulnDB
	if dbDir == "" {
		dbDir = pol.Vulnerabilities.DB
	}
	if dbDir == "" {
		dbDir = grype.DefaultDBDir()
	}
	db := &grype.Matcher{DBDir: dbDir}
	oldM, oldSrc, err := matcherFor(f.oldVulns, db)
	if err != nil {
		return nil, err
	}
	newM, newSrc, err := matcherFor(f.newVulns, db)
	if err != nil {
		return nil, err
	}
	source := newSrc
	if oldSrc != newSrc {
		source = "old: " + oldSrc + "; new: " + newSrc
	}
	cat := &syftscan.Cataloger{CacheDir: filepath.Join(f.cacheDir(), "inventory")}
	return func(p plan.Plan) []check.Check {
		return imagediff.New(imagediff.Config{
			Cataloger: cat, Old: oldM, New: newM, Source: source,
			Diff: pol.Diff, Vulns: pol.Vulnerabilities, HotfixCVEs: p.HotfixCVEs,
			Major: p.Kind == plan.Major || p.Kind == plan.Distro, Kind: p.Kind,
			SBOMDir: f.sbomDir, WriteSBOMs: syftscan.WriteSBOMs,
		})
	}, nil
}

// importedFindings is a vulnerability report read from a file: the same findings whatever the inventory.
type importedFindings []scan.Finding

func (i importedFindings) Findings(context.Context, *scan.Inventory) ([]scan.Finding, error) {
	return i, nil
}

// matcherFor returns the matcher for one image: its imported report when one was given, else the database.
func matcherFor(path string, db *grype.Matcher) (imagediff.Matcher, string, error) {
	if path == "" {
		return db, "grype database " + db.DBDir, nil
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("%w: vulnerability report: %v", ErrUsage, err)
	}
	defer fh.Close()
	fs, format, err := reportjson.Parse(fh)
	if err != nil {
		return nil, "", fmt.Errorf("%w: vulnerability report %s: %v", ErrUsage, path, err)
	}
	return importedFindings(fs), format + " report " + path, nil
}

func parseLayers(ss []string) ([]check.Layer, error) {
	if ss == nil {
		return nil, nil
	}
	var out []check.Layer
	for _, s := range ss {
		for _, part := range strings.Split(s, ",") {
			l, err := check.ParseLayer(part)
			if err != nil {
				return nil, fmt.Errorf("%w: --layers: %v", ErrUsage, err)
			}
			out = append(out, l)
		}
	}
	return out, nil
}

// newRunID names a run: its UTC start time and a random suffix.
func newRunID(now time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}
