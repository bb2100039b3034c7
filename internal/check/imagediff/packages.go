package imagediff

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/plan"
	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/timing"
)

// packagesCheck compares the package inventories: an unexpected removal or a downgrade is a
// warning, and so is a new package in a patch or hotfix (an unexpected new dependency), unless
// the policy allows it; critical components (C library, OpenSSL, runtimes) are named on every
// change.
type packagesCheck struct {
	cfg Config
	inv *inventories
}

func (*packagesCheck) Name() string { return "packages" }

func (c *packagesCheck) Run(ctx context.Context, env *check.Env) (check.Result, error) {
	newInv, err := c.inv.get(ctx, env, env.New)
	if err != nil {
		return check.Result{}, err
	}
	oldInv, err := c.inv.get(ctx, env, env.Old)
	if err != nil {
		return check.Result{}, err
	}
	if err := c.writeSBOMs(env, oldInv, newInv); err != nil {
		return check.Result{}, err
	}
	stop := env.Timings.Start(timing.Diff)
	d := scan.DiffPackages(oldInv, newInv)
	stop()
	r := check.Result{
		Status:    check.StatusPass,
		Measured:  fmt.Sprintf("%d added, %d removed, %d upgraded, %d downgraded, %d renamed", len(d.Added), len(d.Removed), len(d.Upgraded), len(d.Downgraded), len(d.Renamed)),
		Baseline:  fmt.Sprintf("%d packages in old, %d in new", len(oldInv.Packages), len(newInv.Packages)),
		Threshold: "no unexpected removal or downgrade",
		Source:    "package databases read by syft",
		Data:      d,
	}
	if env.Old == nil {
		r.Message = fmt.Sprintf("first deployment: %d packages", len(newInv.Packages))
		r.Baseline = ""
		return r, nil
	}
	var removed []string
	for _, ch := range d.Removed {
		if !slices.Contains(c.cfg.Diff.AllowRemoved, ch.Name) {
			removed = append(removed, ch.Name)
		}
	}
	var downgraded []string
	for _, ch := range d.Downgraded {
		downgraded = append(downgraded, displayName(ch)+" "+ch.OldVersion+" → "+ch.NewVersion)
	}
	var added []string
	if noNewPackages(c.cfg.Kind) {
		r.Threshold = "no unexpected removal, downgrade or new package (a " + string(c.cfg.Kind) + " brings none)"
		for _, ch := range d.Added {
			if !slices.Contains(c.cfg.Diff.AllowAdded, ch.Name) && !slices.Contains(added, ch.Name) {
				added = append(added, ch.Name)
			}
		}
	}
	critical := criticalChanges(d, c.cfg.Diff.CriticalComponents)
	var msg []string
	if len(removed) > 0 {
		r.Status = check.StatusWarn
		msg = append(msg, "unexpected removal: "+strings.Join(removed, ", "))
	}
	if len(downgraded) > 0 {
		r.Status = check.StatusWarn
		msg = append(msg, "downgraded: "+strings.Join(downgraded, ", "))
	}
	if len(added) > 0 {
		r.Status = check.StatusWarn
		msg = append(msg, "unexpected new package in a "+string(c.cfg.Kind)+": "+strings.Join(added, ", ")+" (diff.allowAdded accepts it)")
	}
	if len(critical) > 0 {
		msg = append(msg, "critical components changed: "+strings.Join(critical, ", "))
	}
	if len(msg) == 0 {
		msg = append(msg, fmt.Sprintf("%d package changes, none unexpected", changes(d)))
	}
	r.Message = strings.Join(msg, "; ")
	if t := changeTable(d); len(t.Rows) > 0 {
		r.Tables = []check.Table{t}
	}
	return r, nil
}

// writeSBOMs writes both images' SBOMs when the run asked for them.
func (c *packagesCheck) writeSBOMs(env *check.Env, oldInv, newInv *scan.Inventory) error {
	if c.cfg.SBOMDir == "" || c.cfg.WriteSBOMs == nil {
		return nil
	}
	defer env.Timings.Start(timing.Encode)()
	if env.Old != nil {
		if _, err := c.cfg.WriteSBOMs(oldInv, c.cfg.SBOMDir, "old"); err != nil {
			return fmt.Errorf("write SBOMs: %w", err)
		}
	}
	if _, err := c.cfg.WriteSBOMs(newInv, c.cfg.SBOMDir, "new"); err != nil {
		return fmt.Errorf("write SBOMs: %w", err)
	}
	return nil
}

// noNewPackages reports whether a plan of kind k expects no new packages: a patch or a hotfix
// fixes what is there, so a new dependency is unexpected.
func noNewPackages(k plan.Kind) bool { return k == plan.Patch || k == plan.Hotfix }

func changes(d scan.PackageDiff) int {
	return len(d.Added) + len(d.Removed) + len(d.Upgraded) + len(d.Downgraded) + len(d.Renamed)
}

// criticalChanges names the changes that touch a critical component, "musl 1.2.4 → 1.2.5 (libc)".
func criticalChanges(d scan.PackageDiff, extra []string) []string {
	var out []string
	for _, ch := range allChanges(d) {
		kind := ch.Critical
		if kind == "" && slices.Contains(extra, ch.Name) {
			kind = "policy"
		}
		if kind == "" {
			continue
		}
		if s := fmt.Sprintf("%s %s (%s)", displayName(ch), versions(ch), kind); !slices.Contains(out, s) {
			out = append(out, s) // a rename that goes back is in two lists, named once
		}
	}
	return out
}

func allChanges(d scan.PackageDiff) []scan.PackageChange {
	var all []scan.PackageChange
	for _, s := range [][]scan.PackageChange{d.Removed, d.Downgraded, d.Renamed, d.Upgraded, d.Added} {
		all = append(all, s...)
	}
	return all
}

func displayName(ch scan.PackageChange) string {
	if ch.OldName != "" && ch.OldName != ch.Name {
		return ch.OldName + " → " + ch.Name
	}
	return ch.Name
}

func versions(ch scan.PackageChange) string {
	switch {
	case ch.OldVersion == "":
		return ch.NewVersion
	case ch.NewVersion == "":
		return ch.OldVersion
	default:
		return ch.OldVersion + " → " + ch.NewVersion
	}
}

func changeTable(d scan.PackageDiff) check.Table {
	t := check.Table{Title: "Package changes", Columns: []string{"change", "package", "type", "old", "new", "critical"}}
	for _, ch := range allChanges(d) {
		t.Rows = append(t.Rows, []string{string(ch.Kind), displayName(ch), ch.Type, ch.OldVersion, ch.NewVersion, ch.Critical})
	}
	return t
}
