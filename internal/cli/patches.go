package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/gate"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/inventory"
	"github.com/plimsoll/plimsoll/internal/patches"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/scan/grype"
	syftscan "github.com/plimsoll/plimsoll/internal/scan/syft"
	"github.com/plimsoll/plimsoll/internal/store"
	"github.com/plimsoll/plimsoll/internal/store/open"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

// patchesFlags are the flags of `plimsoll patches`.
type patchesFlags struct {
	check      checkFlags
	apply      bool
	inPlace    bool
	branch     bool
	rebuild    bool
	buildArgs  []string
	approvedBy []string
	except     []string
}

func newPatchesCmd() *cobra.Command {
	f := &patchesFlags{}
	cmd := &cobra.Command{
		Use:   "patches [PATH...]",
		Short: "List newer patches of the base images in use, and apply the eligible ones after a check",
		Long: `patches finds the tagged base images under the paths (default: the working directory), as
inventory does, and lists for each the newer tags in its own release line (same major and minor,
or same major with patches.line: minor) and newer digests of its tag, with the vulnerabilities
each would fix and bring. The patch policy (patches: in the policy file) says which are eligible.

With --apply the newest eligible patch of each image is checked as plimsoll check would check
it (inside a maintenance window and with the approvals the policy needs). On GO:
  - every service built on the image (a Dockerfile FROM it) is built twice in the Docker
    engine, FROM the image in use and FROM the patch (by digest; the engine's images are used,
    a missing base is loaded from its registry), the two builds labelled with
    org.opencontainers.image.base.name/.base.digest and dev.plimsoll.patch.cves, and checked
    against each other with the service's own policy (plimsoll.yaml beside the Dockerfile,
    else --policy). A service that does not build is ERROR; the others go on.
  - the references of each service that is GO, and those running the image itself (manifests,
    compose, CI files), are rewritten to the patch (tag@digest): by default (--branch) as a Git
    branch per patch and service, plimsoll/patch/[SERVICE/]BASE-TAG, with one commit on top of
    HEAD whose message lists the old and new digests, the CVEs fixed by severity, the verdict
    and the run; the work tree and the branch checked out are untouched, and a work tree with
    uncommitted changes is refused. --in-place rewrites the files instead.
A NO-GO service gets no branch and the report says why; a branch an earlier run made is left
for review (its service is not rebuilt) and the patch stays pending. Everything is recorded in the patch
ledger of the store (see plimsoll ledger).

Exit codes: 0 nothing to do or everything applied, 10 eligible patches pending, 20 a patch or
a service was NO-GO, 1 error (a registry that cannot be read, a check that cannot decide, a
service that does not build), 2 usage (also: not a Git work tree, or one with uncommitted
changes, under --branch).`,
		RunE: func(cmd *cobra.Command, args []string) error { return runPatches(cmd, f, args) },
	}
	c := &f.check
	fl := cmd.Flags()
	fl.StringVarP(&c.policyPath, "policy", "p", "", "policy file (apiVersion: plimsoll/v1); default: the built-in seed policy")
	fl.StringVar(&c.cache, "cache-dir", "", "cache of layer-derived results (default: $XDG_CACHE_HOME/plimsoll)")
	fl.BoolVar(&c.insecure, "insecure-registry", false, "allow plain-HTTP registries beyond loopback")
	fl.BoolVarP(&c.verbose, "verbose", "v", false, "log diagnostics to stderr")
	fl.StringVar(&c.vulnDB, "vuln-db", "", "grype database directory (default: the policy's, else grype's own: "+grype.DefaultDBDir()+")")
	fl.StringVar(&c.store, "store", "", storeHelp+"; the patch ledger is kept there too")
	fl.StringVar(&c.reportDir, "report-dir", "", "with --apply, write each check's reports under DIR/RUN-ID")
	fl.StringVarP(&c.format, "output", "o", "text", "text, json or markdown")
	fl.BoolVar(&f.apply, "apply", false, "check the newest eligible patch of each image and, on GO, rewrite its references")
	fl.BoolVar(&f.branch, "branch", false, "with --apply, propose each rewrite as a Git branch with one commit (the default)")
	fl.BoolVar(&f.inPlace, "in-place", false, "with --apply, rewrite the files in the work tree instead of making branches")
	fl.BoolVar(&f.rebuild, "rebuild", true, "with --apply, rebuild and check each service built on a patched image; --rebuild=false checks the image pair only")
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "KEY=VALUE for both builds of every service (repeatable)")
	fl.StringSliceVar(&f.approvedBy, "approved-by", nil, "people who approve this run (added to the policy's approval file)")
	fl.StringArrayVar(&f.except, "except", nil, `decline a patch on purpose: TAG, REPO:TAG or REF, then =NOTE ("3.19.4=waits for vendor")`)
	return cmd
}

func runPatches(cmd *cobra.Command, f *patchesFlags, args []string) error {
	ctx := cmd.Context()
	c := &f.check
	c.noProgress = true
	if !slices.Contains(patches.Formats, c.format) {
		return fmt.Errorf("%w: --output %q: use %s", ErrUsage, c.format, strings.Join(patches.Formats, ", "))
	}
	except, err := parseExcept(f.except)
	if err != nil {
		return err
	}
	if f.branch && f.inPlace {
		return fmt.Errorf("%w: --branch and --in-place exclude each other", ErrUsage)
	}
	buildArgs, err := parseBuildArgs(f.buildArgs)
	if err != nil {
		return err
	}
	var proposer *gitProposer
	if f.apply && !f.inPlace {
		// Refused before anything is checked or built: the branches are made from HEAD.
		if proposer, err = openRepos(ctx, orHere(args)); err != nil {
			if ctx.Err() != nil {
				return err
			}
			return fmt.Errorf("%w: patches --apply: %v (commit or stash first, or use --in-place)", ErrUsage, err)
		}
	}
	pol, err := c.policy(cmd.Context())
	if err != nil {
		return err
	}
	approvers, err := approvers(pol.Patches.Approvals.File, c.policyDir(), f.approvedBy)
	if err != nil {
		return err
	}
	var ledger store.Store
	if dsn := storeDSN(c.store); dsn != "none" {
		if ledger, err = open.Open(ctx, dsn); errors.Is(err, open.ErrBadDSN) {
			return fmt.Errorf("%w: %v", ErrUsage, err)
		} else if err != nil {
			return err
		}
		defer ledger.Close()
	}
	log := c.logger(cmd.ErrOrStderr())
	refs, warns, err := inventory.Find(ctx, orHere(args))
	if err != nil {
		return err
	}
	for _, w := range warns {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w.String())
	}
	finder := &patches.Finder{
		Registry: patches.Registry{Timeout: pol.Patches.RequestTimeout(), Images: image.Options{Insecure: c.insecure, Logger: log}},
		Policy:   pol.Patches, Vulns: c.vulnScanner(pol), Ledger: ledger, Log: log,
	}
	rep, findErr := finder.Find(ctx, refs)
	if rep == nil {
		return findErr
	}
	var applyErr error
	if f.apply {
		a := &patches.Applier{Policy: pol.Patches, Approvers: approvers, Except: except, Ledger: ledger, Log: log,
			Check: func(ctx context.Context, req patches.CheckRequest) (*report.Report, error) {
				if req.Policy == nil {
					return c.patchCheck(ctx, cmd, pol, req.Old, req.New)
				}
				sc := *c // the service's policy, and its folder for the paths it names
				sc.policyPath = req.PolicyFile
				return sc.patchCheck(ctx, cmd, req.Policy, req.Old, req.New)
			},
			LoadPolicy: func(ctx context.Context, file string) (*config.Policy, error) { return config.Load(ctx, file) },
		}
		if f.rebuild {
			a.Builder = &engineBuilder{images: image.Options{Insecure: c.insecure, Logger: log}, args: buildArgs, log: log}
		}
		if proposer != nil {
			a.Propose, a.Proposed = proposer.Propose, proposer.Proposed
		}
		applyErr = a.Apply(ctx, rep)
	}
	if err := patches.Write(cmd.OutOrStdout(), rep, c.format); err != nil {
		return err
	}
	if err := errors.Join(findErr, applyErr); err != nil {
		return err
	}
	switch rep.Decision() {
	case verdict.NoGo:
		return &DecisionError{Decision: verdict.NoGo, Summary: "a patch or a service was NO-GO: its references were left alone"}
	case verdict.Caution:
		return &DecisionError{Decision: verdict.Caution, Summary: "eligible patches are pending"}
	}
	return nil
}

// vulnScanner returns Layer 1's vulnerability scan of one image: syft's inventory matched
// against the grype database the check uses.
func (c *checkFlags) vulnScanner(pol *config.Policy) func(ctx context.Context, img *image.Image) ([]scan.Finding, error) {
	dbDir := c.vulnDB
	if dbDir == "" {
		dbDir = pol.Vulnerabilities.DB
	}
	if dbDir == "" {
		dbDir = grype.DefaultDBDir()
	}
	cat := &syftscan.Cataloger{CacheDir: filepath.Join(c.cacheDir(), "inventory")}
	m := &grype.Matcher{DBDir: dbDir}
	return func(ctx context.Context, img *image.Image) ([]scan.Finding, error) {
		inv, err := cat.Inventory(ctx, img)
		if err != nil {
			return nil, err
		}
		return m.Findings(ctx, inv)
	}
}

// patchCheck runs plimsoll check from old to new (references with their transport) with the
// patch policy's layers, records the run and writes its reports: the evidence behind applying
// a patch or not.
func (c *checkFlags) patchCheck(ctx context.Context, cmd *cobra.Command, pol *config.Policy, old, new string) (*report.Report, error) {
	stderr := cmd.ErrOrStderr()
	log, runID := c.logger(stderr), newRunID(time.Now())
	comp, err := newComposer(c, pol, runID, log)
	if err != nil {
		return nil, err
	}
	defer comp.close(ctx)
	rep, err := gate.Check(ctx, gate.Request{
		Old: old, New: new,
		Policy: pol, Layers: pol.Patches.MustPass(), Images: c.imageOptions(), CacheDir: c.cacheDir(),
		Checks: func(s gate.Setup) gate.Layers { return comp.layers(ctx, s) },
		Log:    log, RunID: runID, Tool: report.Tool{Name: "plimsoll", Version: Version()},
	})
	if err != nil {
		return nil, err
	}
	if c.reportDir != "" {
		if _, err := report.WriteDir(filepath.Join(c.reportDir, rep.RunID), rep); err != nil {
			return nil, fmt.Errorf("write reports: %w", err)
		}
	}
	if err := record(ctx, storeDSN(c.store), rep); err != nil {
		fmt.Fprintf(stderr, "plimsoll: warning: run %s not recorded: %v\n", rep.RunID, err)
	}
	return rep, nil
}

// parseExcept reads --except values: KEY=NOTE.
func parseExcept(vals []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range vals {
		k, note, ok := strings.Cut(v, "=")
		if !ok || strings.TrimSpace(k) == "" || strings.TrimSpace(note) == "" {
			return nil, fmt.Errorf("%w: --except %q: want PATCH=NOTE (3.19.4=waits for the vendor's rebuild)", ErrUsage, v)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(note)
	}
	return out, nil
}

// parseBuildArgs reads --build-arg values: KEY=VALUE.
func parseBuildArgs(vals []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range vals {
		k, val, ok := strings.Cut(v, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%w: --build-arg %q: want KEY=VALUE", ErrUsage, v)
		}
		out[strings.TrimSpace(k)] = val
	}
	return out, nil
}

// approvers reads the approval file (one name a line, # comments; relative to the policy's
// directory) and adds the --approved-by names.
func approvers(file, policyDir string, by []string) ([]string, error) {
	out := slices.Clone(by)
	if file == "" {
		return out, nil
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(policyDir, file)
	}
	fh, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("%w: patches.approvals.file: %v", ErrUsage, err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("approval file %s: %w", file, err)
	}
	return out, nil
}
