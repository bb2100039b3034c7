package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/inventory"
	"github.com/plimsoll/plimsoll/internal/ledger"
	"github.com/plimsoll/plimsoll/internal/owners"
	"github.com/plimsoll/plimsoll/internal/scan"
)

func newLedgerCmd() *cobra.Command {
	var (
		c             common
		dsn, output   string
		since         string
		regressionWin time.Duration
	)
	cmd := &cobra.Command{
		Use:   "ledger [PATH...]",
		Short: "Patch governance figures: time to patch, remediation by severity, adoption, regressions, changelog",
		Long: `ledger reads the patch ledger and the delivery incidents of the store and reports the mean
time to patch (first seen → applied), the time to remediation by severity, the regression rate
after patches (an applied patch followed by a rollback of its image within the policy's
patches.regressionWindow), and a changelog of decisions and exceptions. With PATH arguments it
also counts, per image, how many references in use are already on the newest applied patch,
and lists the patches they still wait for by owner and severity, with the SLA breaches: the
owners come from the CODEOWNERS file of each PATH (.github/, the root or docs/) and the
policy's patches.owners (which win); the SLA from patches.sla (default critical 24h, high 7
days, medium 30 days, low 90 days), counted from when the patch was first seen.

--since takes a duration back from now (720h) or a date (2026-03-01).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if !slices.Contains(ledger.Formats, output) {
				return fmt.Errorf("%w: --output %q: use %s", ErrUsage, output, strings.Join(ledger.Formats, ", "))
			}
			now := time.Now().UTC()
			from, err := parseSince(since, now)
			if err != nil {
				return err
			}
			pol, err := c.policy(cmd.Context())
			if err != nil {
				return err
			}
			if regressionWin < 0 {
				return fmt.Errorf("%w: --regression-window %s is negative", ErrUsage, regressionWin)
			}
			win := regressionWin
			if win == 0 {
				win = pol.Patches.Regression()
			}
			st, err := openHistory(ctx, dsn)
			if err != nil {
				return err
			}
			defer st.Close()
			in, err := ledger.Read(ctx, st, ledger.Input{Since: from, Now: now, RegressionWindow: win})
			if err != nil {
				return err
			}
			if len(args) > 0 {
				refs, warns, err := inventory.Find(ctx, args)
				if err != nil {
					return err
				}
				for _, w := range warns {
					fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w.String())
				}
				in.Refs = refs
				if in.Owner, err = ownersOf(args, pol.Patches.Owners); err != nil {
					return fmt.Errorf("%w: %v", ErrUsage, err)
				}
				in.SLA = map[scan.Severity]time.Duration{}
				for name, d := range pol.Patches.Deadlines() {
					sev, _ := scan.ParseSeverity(name)
					in.SLA[sev] = d
				}
			}
			return ledger.Write(cmd.OutOrStdout(), ledger.Compute(in), output)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&c.policyPath, "policy", "p", "", "policy file (its patches.regressionWindow, owners and sla); default: the built-in seed policy")
	fl.StringVar(&dsn, "store", "", storeHelp)
	fl.StringVar(&since, "since", "", "report from this long ago (720h) or this date (2026-03-01); default: all time")
	fl.DurationVar(&regressionWin, "regression-window", 0, "a rollback this long after a patch counts against it (default: the policy's, 168h)")
	fl.StringVarP(&output, "output", "o", "text", "text, json or markdown")
	return cmd
}

// parseSince reads --since: a duration back from now, or a date (UTC); "" is all time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%w: --since %q: want a duration (720h) or a date (2026-03-01)", ErrUsage, s)
}

// ownersOf returns who owns a file under roots: the CODEOWNERS rules of the root holding it,
// then the policy's rules.
func ownersOf(roots []string, policy []config.OwnerRule) (func(file string) []string, error) {
	type tree struct {
		root  string
		rules *owners.Rules
	}
	var trees []tree
	for _, root := range roots {
		if st, err := os.Stat(root); err != nil || !st.IsDir() {
			continue
		}
		rs, err := owners.Find(root)
		if err != nil {
			return nil, err
		}
		if rs == nil {
			rs = &owners.Rules{}
		}
		for i, r := range policy {
			if err := rs.Add(r.Path, r.Owners...); err != nil {
				return nil, fmt.Errorf("policy patches.owners[%d]: %w", i, err)
			}
		}
		abs, err := filepath.Abs(root)
		if err != nil {
			return nil, err
		}
		trees = append(trees, tree{root: abs, rules: rs})
	}
	return func(file string) []string {
		abs, err := filepath.Abs(file)
		if err != nil {
			return nil
		}
		for _, t := range trees {
			if rel, err := filepath.Rel(t.root, abs); err == nil && !strings.HasPrefix(rel, "..") {
				return t.rules.Of(rel)
			}
		}
		return nil
	}, nil
}
