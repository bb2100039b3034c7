// Package syft lists an image's packages with syft, run as a library on the image plimsoll has
// already resolved, and writes the resulting SBOM as SPDX and CycloneDX JSON.
//
// An inventory is cached under Cataloger.CacheDir, keyed by the image's layers and syft's
// version: a rerun on the same images, or on another image with the same layers, reads no
// layer at all.
package syft

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	stfile "github.com/anchore/stereoscope/pkg/file"
	stimage "github.com/anchore/stereoscope/pkg/image"
	syftlib "github.com/anchore/syft/syft"
	"github.com/anchore/syft/syft/format"
	"github.com/anchore/syft/syft/format/syftjson"
	"github.com/anchore/syft/syft/pkg"
	"github.com/anchore/syft/syft/sbom"
	"github.com/anchore/syft/syft/source"
	"github.com/anchore/syft/syft/source/stereoscopesource"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"

	// syft's rpm cataloger reads the sqlite rpmdb of RHEL 8+ and Fedora through a database/sql
	// driver named "sqlite" that syft does not register. This is the driver grype links, so a
	// binary with both has it once.
	_ "github.com/glebarez/go-sqlite"

	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/scan"
)

// cacheFormat versions the cache entries; bump it when cacheEntry or what goes into an
// Inventory changes.
const cacheFormat = "plimsoll-inventory-1"

// Cataloger lists the packages of images with syft.
type Cataloger struct {
	// CacheDir holds cached inventories and, while an image is catalogued, its unpacked layers.
	// "" disables the cache and unpacks into the system's temporary directory.
	CacheDir string
	// Log receives debug lines; nil discards them.
	Log *slog.Logger
}

// Inventory lists the packages of img, from the cache when an image with the same layers was
// catalogued by the same syft version before.
func (c *Cataloger) Inventory(ctx context.Context, img *image.Image) (*scan.Inventory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	path, err := c.cachePath(img)
	if err != nil {
		return nil, err
	}
	if path != "" {
		inv, err := readCache(path, img)
		switch {
		case err == nil:
			// The cache stands in for reading the layers, not for having them.
			if err := img.ConfirmLayers(ctx); err != nil {
				return nil, fmt.Errorf("syft: %w", err)
			}
			log.Debug("packages from cache", "image", img.Ref, "cache", path, "packages", len(inv.Packages))
			return inv, nil
		case !errors.Is(err, fs.ErrNotExist):
			log.Debug("unusable cache entry, cataloguing again", "image", img.Ref, "cache", path, "err", err)
		}
	}
	start := time.Now()
	s, err := c.catalog(ctx, img)
	if err != nil {
		return nil, fmt.Errorf("syft: %w", err)
	}
	doc, err := encodeSyftJSON(s)
	if err != nil {
		return nil, err
	}
	inv := inventoryOf(s, doc)
	log.Debug("catalogued packages", "image", img.Ref, "packages", len(inv.Packages), "took", time.Since(start))
	if path != "" {
		if err := writeCache(path, img, inv); err != nil {
			log.Debug("could not cache inventory", "image", img.Ref, "err", err)
		}
	}
	return inv, nil
}

// cachePath is the cache file of img's inventory, "" without a CacheDir.
func (c *Cataloger) cachePath(img *image.Image) (string, error) {
	if c.CacheDir == "" {
		return "", nil
	}
	key, err := img.LayerKey()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{key, syftVersion(), syftjson.NewFormatEncoder().Version(), cacheFormat}, "\n")))
	return filepath.Join(c.CacheDir, hex.EncodeToString(sum[:])+".json"), nil
}

// syftVersion is the version of the syft module linked in, as the binary's build information
// says. Test binaries carry none; the syft-json schema version in the cache key still changes
// with most syft releases. It is read on first use, never at package initialisation: syft's
// default configuration builds every cataloger (7 MB and 46,000 allocations), a cost every
// command, `plimsoll version` included, would otherwise pay at start-up.
var syftVersion = sync.OnceValue(func() string {
	return cmp.Or(syftlib.DefaultCreateSBOMConfig().ToolVersion, "unknown")
})

// catalog runs syft over img. Its layers are unpacked into a directory under CacheDir that is
// removed again before catalog returns.
func (c *Cataloger) catalog(ctx context.Context, img *image.Image) (*sbom.SBOM, error) {
	if img.Img == nil {
		return nil, fmt.Errorf("image %s has no content", img.Ref)
	}
	tmpRoot := c.CacheDir
	if tmpRoot != "" {
		if err := os.MkdirAll(tmpRoot, 0o755); err != nil {
			return nil, fmt.Errorf("cache directory: %w", err)
		}
	}
	layers, err := os.MkdirTemp(tmpRoot, "layers-")
	if err != nil {
		return nil, fmt.Errorf("layer directory: %w", err)
	}
	gen := stfile.NewTempDirGenerator("plimsoll-syft")
	opts := []stimage.AdditionalMetadata{stimage.WithManifestDigest(img.Digest.String())}
	if t, ok := tag(img); ok {
		opts = append(opts, stimage.WithTags(t.String()))
	}
	st := stimage.New(img.Img, gen, layers, opts...)
	if err := st.Read(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("read image %s: %w", img.Ref, err), st.Cleanup())
	}
	src := stereoscopesource.New(st, stereoscopesource.ImageConfig{Reference: reference(img)})
	scanner, err := licenseScanner()
	if err != nil {
		return nil, errors.Join(err, src.Close())
	}
	s, err := syftlib.CreateSBOM(withValues{ctx, scanner}, src, syftlib.DefaultCreateSBOMConfig())
	if cerr := src.Close(); err == nil && cerr != nil {
		return nil, fmt.Errorf("clean up %s: %w", layers, cerr)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", img.Ref, err)
	}
	return s, nil
}

// licenseScanner is a context holding syft's license scanner, built once per process:
// building it (licensecheck's automaton) costs more than cataloguing a small image, and
// CreateSBOM builds one per call unless its context has one.
var licenseScanner = sync.OnceValues(func() (context.Context, error) {
	return syftlib.SetContextLicenseScanner(context.Background(), syftlib.DefaultCreateSBOMConfig().Licenses)
})

// withValues is a context that waits like Context and also carries the values of more.
type withValues struct {
	context.Context
	more context.Context
}

func (c withValues) Value(key any) any {
	if v := c.Context.Value(key); v != nil {
		return v
	}
	return c.more.Value(key)
}

// reference names img in its SBOM: its repository and tag when it has them.
func reference(img *image.Image) string { return cmp.Or(img.Name, img.Ref) }

// tag is the tag img is known by, if it has one.
func tag(img *image.Image) (name.Tag, bool) {
	t, err := name.NewTag(img.Name, name.StrictValidation)
	return t, err == nil
}

// inventoryOf reads the packages and distro out of an SBOM; doc is its syft-json encoding.
func inventoryOf(s *sbom.SBOM, doc []byte) *scan.Inventory {
	inv := &scan.Inventory{SBOM: doc, Packages: []scan.Package{}}
	if d := s.Artifacts.LinuxDistribution; d != nil {
		inv.Distro = scan.Distro{ID: d.ID, VersionID: d.VersionID, Name: cmp.Or(d.PrettyName, d.Name)}
	}
	for p := range s.Artifacts.Packages.Enumerate() {
		inv.Packages = append(inv.Packages, scan.Package{Name: p.Name, Version: p.Version, Type: string(p.Type), Origin: origin(p), PURL: p.PURL})
	}
	slices.SortFunc(inv.Packages, func(a, b scan.Package) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version), cmp.Compare(a.PURL, b.PURL))
	})
	return inv
}

// origin is the source package p was built from, "" when its ecosystem has none.
func origin(p pkg.Package) string {
	switch m := p.Metadata.(type) {
	case pkg.ApkDBEntry:
		return m.OriginPackage
	case pkg.DpkgDBEntry:
		return cmp.Or(m.Source, p.Name) // dpkg leaves Source out when it is the package's own name
	case pkg.DpkgArchiveEntry:
		return cmp.Or(m.Source, p.Name)
	case pkg.RpmDBEntry:
		return rpmSourceName(m.SourceRpm)
	case pkg.RpmArchive:
		return rpmSourceName(m.SourceRpm)
	}
	return ""
}

// rpmSourceName is the name in a source RPM's file name: "openssl" of
// "openssl-3.0.7-27.el9.src.rpm".
func rpmSourceName(srpm string) string {
	s := strings.TrimSuffix(srpm, ".src.rpm")
	for range 2 { // drop -release, then -version
		i := strings.LastIndexByte(s, '-')
		if i < 0 {
			return ""
		}
		s = s[:i]
	}
	return s
}

func encodeSyftJSON(s *sbom.SBOM) ([]byte, error) {
	enc, err := syftjson.NewFormatEncoderWithConfig(syftjson.DefaultEncoderConfig())
	if err != nil {
		return nil, fmt.Errorf("syft-json encoder: %w", err)
	}
	b, err := format.Encode(*s, enc)
	if err != nil {
		return nil, fmt.Errorf("encode syft-json: %w", err)
	}
	return bytes.TrimSpace(b), nil
}

func decodeSyftJSON(doc []byte) (*sbom.SBOM, error) {
	s, _, _, err := syftjson.NewFormatDecoder().Decode(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("decode syft-json SBOM: %w", err)
	}
	return s, nil
}

// cacheEntry is one cached inventory.
type cacheEntry struct {
	// Digest is the manifest digest of the image the SBOM describes.
	Digest   string          `json:"digest"`
	Distro   scan.Distro     `json:"distro"`
	Packages []scan.Package  `json:"packages"`
	SBOM     json.RawMessage `json:"sbom"`
}

func writeCache(path string, img *image.Image, inv *scan.Inventory) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep the SBOM byte for byte
	if err := enc.Encode(cacheEntry{Digest: img.Digest.String(), Distro: inv.Distro, Packages: inv.Packages, SBOM: inv.SBOM}); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "inventory-*.tmp")
	if err != nil {
		return err
	}
	_, werr := f.Write(b.Bytes())
	if err := errors.Join(werr, f.Close()); err != nil {
		return errors.Join(err, os.Remove(f.Name()))
	}
	return os.Rename(f.Name(), path) // atomic: a reader sees the old entry or the whole new one
}

// readCache reads a cached inventory. An entry catalogued from another image with the same
// layers has its SBOM's subject changed to img.
func readCache(path string, img *image.Image) (*scan.Inventory, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var e cacheEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("cache entry %s: %w", path, err)
	}
	if len(e.SBOM) == 0 || e.Packages == nil {
		return nil, fmt.Errorf("cache entry %s is incomplete", path)
	}
	doc := []byte(e.SBOM)
	if e.Digest != img.Digest.String() {
		if doc, err = resubject(doc, img); err != nil {
			return nil, err
		}
	}
	return &scan.Inventory{Distro: e.Distro, Packages: e.Packages, SBOM: doc}, nil
}

// resubject makes an SBOM of an image's layers describe img, another image with the same
// layers: its name, digests and config change, its packages and layers stay. No layer is read.
func resubject(doc []byte, img *image.Image) ([]byte, error) {
	s, err := decodeSyftJSON(doc)
	if err != nil {
		return nil, err
	}
	was, ok := s.Source.Metadata.(source.ImageMetadata)
	if !ok {
		return nil, fmt.Errorf("cached SBOM describes a %T, not an image", s.Source.Metadata)
	}
	configName, err := img.Img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("image %s config: %w", img.Ref, err)
	}
	rawConfig, err := img.Img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %s config: %w", img.Ref, err)
	}
	cf, err := img.Img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %s config: %w", img.Ref, err)
	}
	mediaType, err := img.Img.MediaType()
	if err != nil {
		return nil, fmt.Errorf("image %s media type: %w", img.Ref, err)
	}
	st := &stimage.Image{Metadata: stimage.Metadata{
		ID: configName.String(), ManifestDigest: img.Digest.String(), MediaType: mediaType, Size: was.Size,
		Config: *cf, RawConfig: rawConfig, OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant,
	}}
	if t, ok := tag(img); ok {
		st.Metadata.Tags = []name.Tag{t}
	}
	for _, l := range was.Layers {
		st.Layers = append(st.Layers, &stimage.Layer{Metadata: stimage.LayerMetadata{MediaType: ggcrtypes.MediaType(l.MediaType), Digest: l.Digest, Size: l.Size}})
	}
	s.Source = stereoscopesource.New(st, stereoscopesource.ImageConfig{Reference: reference(img)}).Describe()
	return encodeSyftJSON(s)
}
