package syft

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/anchore/syft/syft/format"
	"github.com/anchore/syft/syft/format/cyclonedxjson"
	"github.com/anchore/syft/syft/format/spdxjson"
	"github.com/anchore/syft/syft/sbom"

	"github.com/plimsoll/plimsoll/internal/scan"
)

// WriteSBOMs writes the SBOM of inv into dir as <stem>.spdx.json (SPDX 2.3) and <stem>.cdx.json
// (CycloneDX), with syft's own encoders, and returns the paths written.
func WriteSBOMs(inv *scan.Inventory, dir, stem string) ([]string, error) {
	if inv == nil || len(inv.SBOM) == 0 {
		return nil, errors.New("write SBOMs: the inventory carries no SBOM")
	}
	s, err := decodeSyftJSON(inv.SBOM)
	if err != nil {
		return nil, err
	}
	spdx, err := spdxjson.NewFormatEncoderWithConfig(spdxjson.DefaultEncoderConfig())
	if err != nil {
		return nil, fmt.Errorf("SPDX encoder: %w", err)
	}
	cdx, err := cyclonedxjson.NewFormatEncoderWithConfig(cyclonedxjson.DefaultEncoderConfig())
	if err != nil {
		return nil, fmt.Errorf("CycloneDX encoder: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("write SBOMs: %w", err)
	}
	var paths []string
	for _, out := range []struct {
		ext string
		enc sbom.FormatEncoder
	}{{".spdx.json", spdx}, {".cdx.json", cdx}} {
		b, err := format.Encode(*s, out.enc)
		if err != nil {
			return paths, fmt.Errorf("encode %s: %w", out.enc.ID(), err)
		}
		path := filepath.Join(dir, stem+out.ext)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return paths, fmt.Errorf("write SBOMs: %w", err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}
