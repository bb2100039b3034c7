package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/kube"
	"github.com/plimsoll/plimsoll/internal/plan"
	"github.com/plimsoll/plimsoll/internal/preflight"
	"github.com/plimsoll/plimsoll/internal/scan/grype"
	"github.com/plimsoll/plimsoll/internal/sign"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

type preflightOpts struct {
	common
	kube           kube.ClientOptions
	chart, release string
	values, set    []string
	manifests      []string
	image          string
	vulnDB         string
	output         string
}

func newPreflightCmd() *cobra.Command {
	var o preflightOpts
	cmd := &cobra.Command{
		Use:   "preflight (--chart DIR [--values F] [--set k=v] | -f MANIFEST...) [--image IMG] [-n NS]",
		Short: "The pre-deployment checklist: chart, server-side dry run, nodes, current pods, capacity, signature, vulnerabilities",
		Long: `preflight checks, before a deployment, that it can succeed:
  chart-lint       helm lint of --chart with its values
  render           the chart renders (helm template), or the -f manifests parse
  dry-run          the API server accepts every object (server-side dry run, nothing stored)
  nodes            the nodes are Ready and schedulable (none: fail; some not: warn)
  current-pods     the pods of the Deployments about to be replaced are Running and Ready
  capacity         allocatable CPU/memory of the usable nodes, minus the requests of the pods
                   running on them, covers the new replicas' requests
  image-signature  --image is signed as the policy's harden.signature says (skipped without one)
  vulnerabilities  --image has no vulnerability at or above the policy's vulnerabilities.failOn
                   (high by default), matched offline against the grype database (--vuln-db)

` + refHelp + `

Exit codes: 0 every check passed, 10 a warning, 20 a check failed, 1 error (a check could
not run), 2 usage.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPreflight(cmd, o) },
	}
	fl := cmd.Flags()
	kubeClientFlags(cmd, &o.kube)
	fl.StringVarP(&o.policyPath, "policy", "p", "", "policy file (apiVersion: plimsoll/v1); default: the built-in seed policy")
	fl.BoolVar(&o.insecure, "insecure-registry", false, "allow plain-HTTP registries beyond loopback")
	fl.BoolVarP(&o.verbose, "verbose", "v", false, "log diagnostics to stderr")
	fl.StringVar(&o.chart, "chart", "", "a chart directory or archive")
	fl.StringVar(&o.release, "release", "", "the release name the chart is rendered as (default: the chart's name)")
	fl.StringArrayVar(&o.values, "values", nil, "a values YAML file for --chart (repeatable)")
	fl.StringArrayVar(&o.set, "set", nil, "set a chart value, k=v (repeatable)")
	fl.StringArrayVarP(&o.manifests, "filename", "f", nil, "a YAML manifest of objects (repeatable)")
	fl.StringVar(&o.image, "image", "", "the image being deployed, for the signature and vulnerability checks")
	fl.StringVar(&o.vulnDB, "vuln-db", "", "grype database directory for --image (default: the policy's, else grype's own: "+grype.DefaultDBDir()+")")
	fl.StringVarP(&o.output, "output", "o", "text", "text or json")
	return cmd
}

func runPreflight(cmd *cobra.Command, o preflightOpts) error {
	switch {
	case (o.chart == "") == (len(o.manifests) == 0):
		return fmt.Errorf("%w: give --chart or -f, one of the two", ErrUsage)
	case o.chart == "" && (len(o.values) > 0 || len(o.set) > 0 || o.release != ""):
		return fmt.Errorf("%w: --values, --set and --release go with --chart", ErrUsage)
	case o.output != "text" && o.output != "json":
		return fmt.Errorf("%w: -o %s: want text or json", ErrUsage, o.output)
	}
	pol, err := o.policy(cmd.Context())
	if err != nil {
		return err
	}
	log := o.logger(cmd.ErrOrStderr())
	var verifier *sign.Verifier
	var vulns check.Check
	if o.image != "" {
		// Layer 1's vulnerability check, judging the image alone as a first deployment does.
		layerOne, err := (&checkFlags{common: o.common, vulnDB: o.vulnDB}).layerOne(pol)
		if err != nil {
			return err
		}
		for _, c := range layerOne(plan.Plan{}) {
			if c.Name() == "vulnerabilities" {
				vulns = c
			}
		}
		opts := []sign.Option{sign.WithLogger(log)}
		if o.insecure {
			opts = append(opts, sign.WithInsecure())
		}
		if verifier, err = sign.NewVerifier(pol.Harden.Signature, o.policyDir(), opts...); err != nil {
			return fmt.Errorf("%w: policy harden.signature: %v", ErrUsage, err)
		}
	}
	cfg, ns, err := o.kube.Config()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	results, err := preflight.Run(ctx, cfg, preflight.Options{Chart: o.chart, ValueFiles: o.values, Set: o.set, Release: o.release,
		Manifests: o.manifests, Namespace: ns, Logger: log})
	if err != nil {
		return err
	}
	if o.image != "" {
		img, err := image.Resolve(ctx, o.image, o.imageOptions())
		if err != nil {
			return fmt.Errorf("preflight image: %w", err)
		}
		results = append(results, preflight.Signature(ctx, img, verifier, pol.Harden.Signature.Required))
		res, err := vulns.Run(ctx, &check.Env{New: img, Log: log})
		if err != nil {
			res = check.Result{Status: check.StatusError, Message: err.Error()}
		}
		res.Layer, res.Check = check.L1Diff, "vulnerabilities"
		results = append(results, res)
		img.Close()
	}
	w := cmd.OutOrStdout()
	if o.output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Namespace string         `json:"namespace"`
			Results   []check.Result `json:"results"`
		}{ns, results}); err != nil {
			return err
		}
	} else {
		printPreflight(w, results)
	}
	return preflightDecision(results)
}

// printPreflight prints one line per check and, under a check that did not pass, its tables.
func printPreflight(w io.Writer, results []check.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tRESULT")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Check, strings.ToUpper(r.Status.String()), strings.ReplaceAll(r.Message, "\n", "; "))
	}
	tw.Flush()
	for _, r := range results {
		if r.Status == check.StatusPass || r.Status == check.StatusSkipped {
			continue
		}
		for _, t := range r.Tables {
			fmt.Fprintf(w, "\n%s: %s\n", r.Check, t.Title)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  "+strings.Join(t.Columns, "\t"))
			for _, row := range t.Rows {
				fmt.Fprintln(tw, "  "+strings.Join(row, "\t"))
			}
			tw.Flush()
		}
	}
}

// preflightDecision turns the worst result into the exit contract: a failed check is NO-GO,
// a warning or inconclusive CAUTION, a check that could not run an error.
func preflightDecision(results []check.Result) error {
	worst, first := check.StatusPass, ""
	for _, r := range results {
		if r.Status > worst {
			worst, first = r.Status, r.Check+": "+r.Message
		}
	}
	n := 0
	for _, r := range results {
		if r.Status == worst {
			n++
		}
	}
	switch worst {
	case check.StatusFail:
		return &DecisionError{Decision: verdict.NoGo, Summary: fmt.Sprintf("%d preflight checks failed", n), Reason: first}
	case check.StatusError:
		return errors.New("preflight: a check could not run: " + first)
	case check.StatusWarn, check.StatusInconclusive:
		return &DecisionError{Decision: verdict.Caution, Summary: fmt.Sprintf("%d preflight checks warn", n), Reason: first}
	}
	return nil
}
