package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/inventory"
	"github.com/plimsoll/plimsoll/internal/sign"
)

// ErrUnpinned marks `pin --check` finding floating references: CI fails on it (exit 1).
var ErrUnpinned = errors.New("unpinned image references")

func newInventoryCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "inventory [PATH...]",
		Short: "List the image references of Dockerfiles, Kubernetes manifests, Helm charts, compose and CI files",
		Long: `inventory finds every image reference under the paths (default: the working directory) in
Dockerfiles (FROM, ARG defaults, multi-stage), Kubernetes manifests, Helm values and charts,
docker-compose files and GitHub/GitLab CI files, and shows each with file:line, tag, digest and
whether it floats (no digest).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("%w: --output %q: use text or json", ErrUsage, output)
			}
			refs, warns, err := inventory.Find(cmd.Context(), orHere(args))
			if err != nil {
				return err
			}
			for _, w := range warns {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w.String())
			}
			if output == "json" {
				e := json.NewEncoder(cmd.OutOrStdout())
				e.SetIndent("", "  ")
				return e.Encode(refs)
			}
			return refTable(cmd.OutOrStdout(), refs)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

func newPinCmd() *cobra.Command {
	var (
		c        common
		checkOnl bool
		dryRun   bool
	)
	cmd := &cobra.Command{
		Use:   "pin [PATH...]",
		Short: "Pin floating image references to tag@sha256:digest in place",
		Long: `pin rewrites every floating image reference under the paths to name:tag@sha256:digest,
keeping the tag for people and touching only the reference text. Digests are read from the
registry; when the policy sets harden.signature, each image's signature is verified first and an
image that fails is not pinned. With --check nothing is written: the command fails (exit 1) when
a floating reference is found, for CI.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			refs, warns, err := inventory.Find(ctx, orHere(args))
			if err != nil {
				return err
			}
			for _, w := range warns {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w.String())
			}
			if checkOnl {
				floating := inventory.Check(refs)
				if len(floating) == 0 {
					_, err := fmt.Fprintln(cmd.OutOrStdout(), "every image reference is pinned")
					return err
				}
				if err := refTable(cmd.OutOrStdout(), floating); err != nil {
					return err
				}
				return fmt.Errorf("%w: %d found", ErrUnpinned, len(floating))
			}
			pol, err := c.policy(cmd.Context())
			if err != nil {
				return err
			}
			opts := c.imageOptions()
			var signOpts []sign.Option
			if c.insecure {
				signOpts = append(signOpts, sign.WithInsecure())
			}
			verifier, err := sign.NewVerifier(pol.Harden.Signature, c.policyDir(), signOpts...)
			if err != nil {
				return fmt.Errorf("%w: policy harden.signature: %v", ErrUsage, err)
			}
			edits, pinErr := inventory.Pin(ctx, refs, func(ctx context.Context, ref string) (string, error) {
				return resolveVerified(ctx, ref, opts, verifier)
			})
			for _, e := range edits {
				fmt.Fprintf(cmd.OutOrStdout(), "%s:%d: %s → %s\n", e.File, e.Line, e.Old, e.New)
			}
			if !dryRun {
				if err := inventory.Apply(edits); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d references pinned%s\n", len(edits), map[bool]string{true: " (dry run: nothing written)"}[dryRun])
			return pinErr
		},
	}
	c.register(cmd)
	cmd.Flags().BoolVar(&checkOnl, "check", false, "write nothing; fail when a floating reference is found")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show the edits without writing them")
	return cmd
}

// resolveVerified reads ref's digest from its registry, after verifying its signature when a
// signature policy is set.
func resolveVerified(ctx context.Context, ref string, opts image.Options, v *sign.Verifier) (string, error) {
	img, err := image.Resolve(ctx, "registry:"+ref, opts)
	if err != nil {
		return "", err
	}
	defer img.Close()
	if v != nil {
		if _, err := v.Verify(ctx, img); err != nil {
			return "", fmt.Errorf("%s: not pinned: %w", ref, err)
		}
	}
	return img.Digest.String(), nil
}

func refTable(w io.Writer, refs []inventory.Ref) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE:LINE\tKIND\tIMAGE\tTAG\tDIGEST\tFLOATS\tNOTE")
	for _, r := range refs {
		d := r.Digest
		if len(d) > 19 {
			d = d[:19] + "…"
		}
		floats := map[bool]string{true: "yes", false: "no"}[r.Floats]
		if r.Local {
			floats = "built here"
		}
		fmt.Fprintf(tw, "%s:%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.File, r.Line, r.Kind, r.Name, orDash(r.Tag), orDash(d), floats, r.Note)
	}
	return tw.Flush()
}

func orHere(paths []string) []string {
	if len(paths) == 0 {
		return []string{"."}
	}
	return paths
}
