package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plimsoll/plimsoll/internal/gate"
	"github.com/plimsoll/plimsoll/internal/report"
)

func newPlanCmd() *cobra.Command {
	var (
		c      common
		output string
	)
	cmd := &cobra.Command{
		Use:   "plan [OLD] NEW",
		Short: "Classify the upgrade from OLD to NEW and show which layers, budget and promotion rule it calls for",
		Long: `plan reads both images (tags and contents: os-release, C library, OpenSSL, user, entrypoint)
and classifies the upgrade as same digest, patch, minor, major, distro, hotfix or custom.
When the tag and the content disagree, the riskier reading wins and the plan says why.

` + refHelp,
		Args: rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("%w: --output %q: use text or json", ErrUsage, output)
			}
			pol, err := c.policy(cmd.Context())
			if err != nil {
				return err
			}
			req := gate.Request{New: args[len(args)-1], Policy: pol, HotfixCVEs: c.hotfix, Images: c.imageOptions(), CacheDir: c.cacheDir(), Log: c.logger(cmd.ErrOrStderr())}
			if len(args) == 2 {
				req.Old = args[0]
			}
			old, new, p, err := gate.Plan(cmd.Context(), req)
			if err != nil {
				return err
			}
			out := struct {
				Old  *report.Subject `json:"old"`
				New  *report.Subject `json:"new"`
				Plan report.Plan     `json:"plan"`
			}{old, new, gate.ReportPlan(p)}
			w := cmd.OutOrStdout()
			if output == "json" {
				e := json.NewEncoder(w)
				e.SetIndent("", "  ")
				return e.Encode(out)
			}
			from := "(first deployment)"
			if old != nil {
				from = old.Ref + " (" + short(old.Digest) + ")"
			}
			fmt.Fprintf(w, "%s → %s (%s)\n", from, new.Ref, short(new.Digest))
			fmt.Fprintf(w, "upgrade:   %s (risk %s)\n", out.Plan.Kind, out.Plan.Risk)
			var ls []string
			for _, l := range out.Plan.Layers {
				ls = append(ls, l.String())
			}
			fmt.Fprintf(w, "layers:    %s\n", orDash(strings.Join(ls, ", ")))
			fmt.Fprintf(w, "budget:    %s\n", time.Duration(out.Plan.Budget))
			fmt.Fprintf(w, "promotion: %s\n", out.Plan.Promotion)
			for _, r := range out.Plan.Reasons {
				fmt.Fprintf(w, "  - %s\n", r)
			}
			return nil
		},
	}
	c.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

func short(digest string) string {
	if i := strings.IndexByte(digest, ':'); i >= 0 && len(digest) > i+13 {
		return digest[:i+13]
	}
	return digest
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
