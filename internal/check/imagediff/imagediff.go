// Package imagediff is Layer 1 of the gate: it compares the two images without starting a
// container — their packages (with each distro's version ordering), their configs and their
// vulnerabilities — and judges each difference against the policy.
package imagediff

import (
	"context"
	"fmt"
	"sync"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/plan"
	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/timing"
)

// Cataloger lists the packages of an image (syft, or a test double).
type Cataloger interface {
	Inventory(ctx context.Context, img *image.Image) (*scan.Inventory, error)
}

// Matcher finds the vulnerabilities of an inventory (a grype database, or imported reports).
type Matcher interface {
	Findings(ctx context.Context, inv *scan.Inventory) ([]scan.Finding, error)
}

// Config is what Layer 1 needs besides the two images.
type Config struct {
	Cataloger Cataloger
	// Old and New find each image's vulnerabilities (a database, or a report imported for that
	// image). When they cannot, the vulnerability check reports an error, never a pass.
	Old, New Matcher
	// Source names where findings come from ("grype db built 2026-11-20", "trivy report").
	Source string
	Diff   config.Diff
	Vulns  config.Vulnerabilities
	// HotfixCVEs must be gone from the new image.
	HotfixCVEs []string
	// Major is true for plans whose kind lets policy accept new findings (major, distro).
	Major bool
	// Kind is the plan's kind: in a patch or a hotfix, a new package is unexpected.
	Kind plan.Kind
	// SBOMDir, when set, receives old and new SBOMs as SPDX and CycloneDX JSON.
	SBOMDir string
	// WriteSBOMs writes an inventory's SBOMs into dir with the file-name stem.
	WriteSBOMs func(inv *scan.Inventory, dir, stem string) ([]string, error)
}

// New returns Layer 1's checks: packages, config and vulnerabilities. They share one
// inventory per image, so each image is catalogued once per run.
func New(cfg Config) []check.Check {
	inv := &inventories{c: cfg.Cataloger, m: map[*image.Image]*scan.Inventory{}}
	return []check.Check{
		&packagesCheck{cfg: cfg, inv: inv},
		configCheck{},
		&vulnCheck{cfg: cfg, inv: inv},
	}
}

// inventories catalogues each image once per run.
type inventories struct {
	c  Cataloger
	mu sync.Mutex
	m  map[*image.Image]*scan.Inventory
}

func (i *inventories) get(ctx context.Context, env *check.Env, img *image.Image) (*scan.Inventory, error) {
	if img == nil {
		return &scan.Inventory{}, nil
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if inv, ok := i.m[img]; ok {
		return inv, nil
	}
	stop := env.Timings.Start(timing.Inventory)
	inv, err := i.c.Inventory(ctx, img)
	stop()
	if err != nil {
		return nil, fmt.Errorf("catalog packages of %s: %w", img.Ref, err)
	}
	i.m[img] = inv
	return inv, nil
}
