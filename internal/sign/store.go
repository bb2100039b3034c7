package sign

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/plimsoll/plimsoll/internal/image"
)

// Bounds on what is read from a store, so a hostile registry cannot exhaust memory or time.
const (
	maxBlob        = 4 << 20 // one payload or bundle
	maxAttachments = 64      // signatures of one tag, referrers of one subject
)

// store is where an image's attachments are kept: its registry repository, or its OCI layout.
type store interface {
	// String names the store in messages ("registry 127.0.0.1:5000/app").
	String() string
	// subjects are the manifests an attachment of img may name: img's own, and the
	// multi-platform index its reference points to when that index lists it.
	subjects(ctx context.Context, img *image.Image) ([]v1.Hash, error)
	// tagged returns the manifest tagged tag read as an image, nil when there is none.
	tagged(ctx context.Context, tag string) (v1.Image, v1.Hash, error)
	// referrers lists the manifests whose subject is d.
	referrers(ctx context.Context, d v1.Hash) ([]v1.Descriptor, error)
	// manifest reads the manifest d as an image (artifact manifests included).
	manifest(ctx context.Context, d v1.Hash) (v1.Image, error)
}

// openStore returns the store img's attachments are read from. A daemon or docker-archive image
// has none: the error wraps ErrNoRegistry and says what to do.
func openStore(img *image.Image, o options) (store, error) {
	switch img.Transport {
	case image.Registry:
		return newRegistryStore(img, o)
	case image.OCIDir:
		return newLayoutStore(img)
	}
	return nil, &kindError{
		kinds: []error{ErrNoRegistry},
		msg: fmt.Sprintf("no registry to read attachments from: %s was read from the %s transport, which keeps no signatures or SBOMs; "+
			"check the image by its registry reference (registry:HOST/REPO@%s) or from an OCI layout that holds its referrers", img.Ref, img.Transport, img.Digest),
	}
}

// tagFor is the tag cosign stores an attachment of d under ("sha256-<hex>.sig").
func tagFor(d v1.Hash, suffix string) string { return d.Algorithm + "-" + d.Hex + "." + suffix }

// readBlob reads a layer's stored bytes, at most maxBlob of them.
func readBlob(l v1.Layer) ([]byte, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxBlob+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBlob {
		return nil, fmt.Errorf("more than %d bytes", maxBlob)
	}
	return b, nil
}

// registryStore reads attachments from the image's registry repository.
type registryStore struct {
	ref  name.Reference
	repo name.Repository
	o    options
}

func newRegistryStore(img *image.Image, o options) (*registryStore, error) {
	var nopts []name.Option
	if o.insecure {
		nopts = append(nopts, name.Insecure)
	}
	ref, err := name.ParseReference(strings.TrimPrefix(img.Ref, string(image.Registry)+":"), nopts...)
	if err != nil {
		return nil, fmt.Errorf("image %s: not a registry reference: %w", img.Ref, err)
	}
	return &registryStore{ref: ref, repo: ref.Context(), o: o}, nil
}

func (s *registryStore) String() string { return "registry " + s.repo.Name() }

func (s *registryStore) remote(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(s.o.keychain), remote.WithUserAgent("plimsoll")}
}

func (s *registryStore) subjects(ctx context.Context, img *image.Image) ([]v1.Hash, error) {
	out := []v1.Hash{img.Digest}
	desc, err := remote.Head(s.ref, s.remote(ctx)...)
	if err != nil {
		if notFound(err) {
			return out, nil // the tag moved or went: only the image's own digest counts
		}
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	if !desc.MediaType.IsIndex() || desc.Digest == img.Digest {
		return out, nil
	}
	idx, err := remote.Index(s.repo.Digest(desc.Digest.String()), s.remote(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("%s: reading index %s: %w", s, desc.Digest, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("%s: reading index %s: %w", s, desc.Digest, err)
	}
	for _, m := range im.Manifests {
		if m.Digest == img.Digest {
			return append(out, desc.Digest), nil
		}
	}
	return out, nil
}

func (s *registryStore) tagged(ctx context.Context, tag string) (v1.Image, v1.Hash, error) {
	desc, err := remote.Get(s.repo.Tag(tag), s.remote(ctx)...)
	if err != nil {
		if notFound(err) {
			return nil, v1.Hash{}, nil
		}
		return nil, v1.Hash{}, fmt.Errorf("%s: reading tag %s: %w", s, tag, err)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("%s: reading tag %s: %w", s, tag, err)
	}
	return img, desc.Digest, nil
}

func (s *registryStore) referrers(ctx context.Context, d v1.Hash) ([]v1.Descriptor, error) {
	idx, err := remote.Referrers(s.repo.Digest(d.String()), s.remote(ctx)...)
	if err != nil {
		if notFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: listing referrers of %s: %w", s, d, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("%s: listing referrers of %s: %w", s, d, err)
	}
	return im.Manifests, nil
}

func (s *registryStore) manifest(ctx context.Context, d v1.Hash) (v1.Image, error) {
	img, err := remote.Image(s.repo.Digest(d.String()), s.remote(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("%s: reading manifest %s: %w", s, d, err)
	}
	return img, nil
}

// notFound tells a registry's "no such manifest" from other failures.
func notFound(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	if te.StatusCode == http.StatusNotFound {
		return true
	}
	for _, d := range te.Errors {
		if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
			return true
		}
	}
	return false
}

// layoutStore reads attachments from the OCI layout an image was read from: manifests listed in
// its index.json (at any depth) whose subject is the image, or that carry a tag as their
// org.opencontainers.image.ref.name.
type layoutStore struct {
	dir  string
	path layout.Path
}

const refNameAnnotation = "org.opencontainers.image.ref.name"

func newLayoutStore(img *image.Image) (*layoutStore, error) {
	dir := layoutDir(img.Ref)
	if dir == "" {
		return nil, fmt.Errorf("image %s: cannot tell its OCI layout directory", img.Ref)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	return &layoutStore{dir: dir, path: p}, nil
}

// layoutDir finds the layout directory in an oci-dir reference ("oci-dir:PATH", "PATH:TAG",
// "PATH@sha256:…", or a bare PATH): the longest of those readings that holds an index.json.
func layoutDir(ref string) string {
	rest := strings.TrimPrefix(ref, string(image.OCIDir)+":")
	cands := []string{rest}
	if i := strings.Index(rest, "@"); i > 0 {
		cands = append(cands, rest[:i])
	}
	if i := strings.Index(rest, ":"); i > 0 {
		cands = append(cands, rest[:i])
	}
	for _, c := range cands {
		if _, err := os.Stat(filepath.Join(c, "index.json")); err == nil {
			return c
		}
	}
	return ""
}

func (s *layoutStore) String() string { return "OCI layout " + s.dir }

func (s *layoutStore) subjects(_ context.Context, img *image.Image) ([]v1.Hash, error) {
	return []v1.Hash{img.Digest}, nil
}

// each calls fn for every manifest descriptor of the layout, nested indexes included.
func (s *layoutStore) each(fn func(v1.Descriptor) error) error {
	idx, err := s.path.ImageIndex()
	if err != nil {
		return fmt.Errorf("%s: %w", s, err)
	}
	var walk func(v1.ImageIndex, int) error
	walk = func(idx v1.ImageIndex, depth int) error {
		im, err := idx.IndexManifest()
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		for _, d := range im.Manifests {
			if d.MediaType.IsIndex() && depth < 4 {
				child, err := idx.ImageIndex(d.Digest)
				if err != nil {
					return fmt.Errorf("%s: index %s: %w", s, d.Digest, err)
				}
				if err := walk(child, depth+1); err != nil {
					return err
				}
				continue
			}
			if err := fn(d); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(idx, 0)
}

func (s *layoutStore) tagged(_ context.Context, tag string) (v1.Image, v1.Hash, error) {
	var found *v1.Descriptor
	err := s.each(func(d v1.Descriptor) error {
		if found == nil && d.Annotations[refNameAnnotation] == tag {
			found = &d
		}
		return nil
	})
	if err != nil || found == nil {
		return nil, v1.Hash{}, err
	}
	img, err := s.path.Image(found.Digest)
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("%s: tag %s: %w", s, tag, err)
	}
	return img, found.Digest, nil
}

func (s *layoutStore) referrers(_ context.Context, subject v1.Hash) ([]v1.Descriptor, error) {
	var out []v1.Descriptor
	err := s.each(func(d v1.Descriptor) error {
		if !d.MediaType.IsImage() || len(out) >= maxAttachments {
			return nil
		}
		img, err := s.path.Image(d.Digest)
		if err != nil {
			return fmt.Errorf("%s: manifest %s: %w", s, d.Digest, err)
		}
		m, err := img.Manifest()
		if err != nil {
			return fmt.Errorf("%s: manifest %s: %w", s, d.Digest, err)
		}
		if m.Subject == nil || m.Subject.Digest != subject {
			return nil
		}
		if d.ArtifactType == "" {
			d.ArtifactType = m.ArtifactType
		}
		if d.ArtifactType == "" {
			d.ArtifactType = string(m.Config.MediaType)
		}
		if len(d.Annotations) == 0 {
			d.Annotations = m.Annotations
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

func (s *layoutStore) manifest(_ context.Context, d v1.Hash) (v1.Image, error) {
	img, err := s.path.Image(d)
	if err != nil {
		return nil, fmt.Errorf("%s: manifest %s: %w", s, d, err)
	}
	return img, nil
}

// emptyConfigType is the media type of the empty config OCI artifacts carry.
const emptyConfigType = "application/vnd.oci.empty.v1+json"

// artifactOf returns the artifact type and annotations of the referrer d. When the referrers
// index does not say (some registries, ggcr's among them, index a referrer by its config media
// type), it reads the manifest: its artifactType, else the media type of its first layer.
func artifactOf(ctx context.Context, st store, d v1.Descriptor) (string, map[string]string, error) {
	if d.ArtifactType != "" && d.ArtifactType != emptyConfigType {
		return d.ArtifactType, d.Annotations, nil
	}
	img, err := st.manifest(ctx, d.Digest)
	if err != nil {
		return "", nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return "", nil, fmt.Errorf("%s: manifest %s: %w", st, d.Digest, err)
	}
	typ := m.ArtifactType
	if typ == "" && len(m.Layers) > 0 {
		typ = string(m.Layers[0].MediaType)
	}
	return typ, m.Annotations, nil
}
