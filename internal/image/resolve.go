package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"
)

// Options tunes Resolve.
type Options struct {
	// Keychain finds registry credentials; nil means authn.DefaultKeychain (the Docker config
	// file and its credential helpers).
	Keychain authn.Keychain
	// Insecure allows plain-http registries besides loopback ones, which always may be.
	Insecure bool
	// Logger receives debug lines about what Resolve tries; nil discards them. It never
	// receives credentials.
	Logger *slog.Logger
}

const (
	refNameAnnotation        = "org.opencontainers.image.ref.name"
	containerdNameAnnotation = "io.containerd.image.name"
	// daemonPingTimeout bounds the wait for a Docker daemon that does not answer.
	daemonPingTimeout = 5 * time.Second
	// maxListed bounds how many candidates an ambiguity or not-found error lists.
	maxListed = 10
)

// platform is the one a multi-platform index resolves to.
var platform = v1.Platform{OS: "linux", Architecture: runtime.GOARCH}

// errDaemonDown marks a Docker daemon that did not answer, so a bare reference goes on to the registry.
var errDaemonDown = errors.New("docker daemon not reachable")

// Resolve reads the image ref names (see the package doc for the syntax) and pins it to its
// manifest digest. It reads the manifest and config; layers are read later, by Walk.
//
// For a registry image, ctx bounds Resolve only: Walk fetches layers with its own ctx. A daemon
// image is saved through the daemon once, into a temporary file (never held in memory) that
// Close removes. `docker save` gives uncompressed layers that go-containerregistry compresses
// again to compute the manifest, so a daemon image's Digest differs from its registry's; its
// config digest, diffIDs and LayerKey do not.
func Resolve(ctx context.Context, ref string, opts Options) (*Image, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := ctx.Err(); err != nil {
		return nil, at(ref, fail(nil, "cancelled", err))
	}
	src, err := splitRef(ref)
	if err != nil {
		return nil, at(ref, err)
	}
	var img *Image
	switch src.transport {
	case Registry:
		img, err = fromRegistry(ctx, src.target, opts)
	case Daemon:
		var r name.Reference
		if r, err = parseRef(src.target, opts); err == nil {
			img, err = fromDaemon(ctx, r)
		}
	case OCIDir:
		src = wholePath(ref, src)
		img, err = fromLayout(src)
	case DockerArchive:
		src = wholePath(ref, src)
		img, err = fromArchive(src)
	default:
		img, err = fromBare(ctx, ref, opts, log)
	}
	if err != nil {
		return nil, at(ref, err)
	}
	img.Ref = ref
	log.Debug("resolved image", "ref", redactRef(ref), "transport", img.Transport, "name", img.Name, "digest", img.Digest)
	return img, nil
}

// wholePath takes all of a reference after the transport as the path when the split path does
// not exist but the whole does ("oci-dir:/data/a:b" for a directory called "a:b").
func wholePath(ref string, src source) source {
	if src.selector == "" {
		return src
	}
	if _, err := os.Stat(src.target); err == nil {
		return src
	}
	rest := ref[len(src.transport)+1:]
	if _, err := os.Stat(rest); err == nil {
		return source{transport: src.transport, target: rest}
	}
	return src
}

// fromBare reads an argument without a transport: a directory, a file, or a reference looked
// up in the daemon and then in the registry.
func fromBare(ctx context.Context, ref string, opts Options, log *slog.Logger) (*Image, error) {
	if st, err := os.Stat(ref); err == nil {
		if st.IsDir() {
			return fromLayout(source{transport: OCIDir, target: ref})
		}
		return fromArchive(source{transport: DockerArchive, target: ref})
	}
	if looksLikePath(ref) {
		return nil, fail(ErrNotFound, "no such file or directory", nil)
	}
	r, err := parseRef(ref, opts)
	if err != nil {
		return nil, err
	}
	img, derr := fromDaemon(ctx, r)
	if derr == nil {
		return img, nil
	}
	if ctx.Err() != nil {
		return nil, derr
	}
	log.Debug("image not read from the docker daemon; trying its registry", "ref", redactRef(ref), "reason", derr.Error())
	img, rerr := fromRegistry(ctx, ref, opts)
	if rerr == nil {
		return img, nil
	}
	var kind error
	if errors.Is(rerr, ErrNotFound) && (errors.Is(derr, ErrNotFound) || errors.Is(derr, errDaemonDown)) {
		kind = ErrNotFound
	}
	cause := rerr
	if re := (*refError)(nil); errors.As(rerr, &re) {
		cause = re.cause // the registry's own error, without the sentinel kind leaves out
	}
	return nil, &refError{kind: kind, msg: "tried the docker daemon, then the registry: " + derr.Error() + "; " + rerr.Error(), cause: cause}
}

// parseRef parses an image reference for the daemon or a registry.
func parseRef(s string, opts Options) (name.Reference, error) {
	var nopts []name.Option
	if opts.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(s, nopts...)
	if err != nil {
		return nil, fail(ErrBadReference, "malformed image reference", err)
	}
	return r, nil
}

// nameOf is the repo:tag a reference names ("alpine" is "alpine:latest"), "" for a digest
// reference without a tag.
func nameOf(r name.Reference) string {
	s := r.String()
	switch r := r.(type) {
	case name.Digest:
		base, _, _ := strings.Cut(s, "@")
		if t, err := name.NewTag(base); err == nil && strings.HasSuffix(base, ":"+t.TagStr()) {
			return base
		}
		return ""
	case name.Tag:
		if !strings.HasSuffix(s, ":"+r.TagStr()) {
			return s + ":" + r.TagStr()
		}
	}
	return s
}

// complete fills an Image from v, reading its manifest digest and config; classify turns a
// read error into the transport's kind of failure.
func complete(t Transport, name string, v v1.Image, classify func(error) error) (*Image, error) {
	d, err := v.Digest()
	if err != nil {
		return nil, classify(err)
	}
	raw, err := v.RawConfigFile()
	if err != nil {
		return nil, classify(err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fail(ErrUnreadable, "unreadable image config", err)
	}
	return &Image{Transport: t, Name: name, Digest: d, Img: v, Config: cf}, nil
}

func unreadable(err error) error { return fail(ErrUnreadable, "unreadable image", err) }

// fromRegistry reads an image from its registry.
func fromRegistry(ctx context.Context, target string, opts Options) (*Image, error) {
	r, err := parseRef(target, opts)
	if err != nil {
		return nil, err
	}
	kc := opts.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	auth, secrets, err := credentials(ctx, kc, r.Context())
	if err != nil {
		return nil, err
	}
	options := func(ctx context.Context) []remote.Option {
		return []remote.Option{remote.WithContext(ctx), remote.WithAuth(auth), remote.WithPlatform(platform), remote.WithUserAgent("plimsoll")}
	}
	host := r.Context().RegistryStr()
	v, err := remote.Image(r, options(ctx)...)
	if err != nil {
		return nil, registryFailure(ctx, host, err, secrets)
	}
	img, err := complete(Registry, nameOf(r), v, func(err error) error { return registryFailure(ctx, host, err, secrets) })
	if err != nil {
		return nil, err
	}
	pinned := r.Context().Digest(img.Digest.String())
	img.Repository = r.Context().Name()
	img.secrets = secrets
	img.reopen = func(ctx context.Context) (v1.Image, error) {
		v, err := remote.Image(pinned, options(ctx)...)
		if err != nil {
			return nil, registryFailure(ctx, host, err, secrets)
		}
		return v, nil
	}
	img.headBlob = func(ctx context.Context, d v1.Hash) error {
		l, err := remote.Layer(pinned.Context().Digest(d.String()), options(ctx)...)
		if err == nil {
			_, err = l.Size() // a HEAD of the blob
		}
		if err != nil {
			return registryFailure(ctx, host, err, secrets)
		}
		return nil
	}
	return img, nil
}

// credentials resolves the keychain for repo once, and returns with the authenticator the
// strings that must never appear in an error.
func credentials(ctx context.Context, kc authn.Keychain, repo name.Repository) (authn.Authenticator, []string, error) {
	a, err := authn.Resolve(ctx, kc, repo)
	if err != nil {
		return nil, nil, fail(nil, "looking up credentials for "+repo.RegistryStr(), err)
	}
	if a == authn.Anonymous {
		return a, nil, nil
	}
	cfg, err := authn.Authorization(ctx, a)
	if err != nil {
		return nil, nil, fail(nil, "reading credentials for "+repo.RegistryStr(), err)
	}
	secrets := []string{cfg.Password, cfg.Auth, cfg.IdentityToken, cfg.RegistryToken}
	if cfg.Password != "" {
		secrets = append(secrets, base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Password)))
	}
	return authn.FromConfig(*cfg), secrets, nil
}

// registryFailure classifies an error from a registry.
func registryFailure(ctx context.Context, host string, err error, secrets []string) error {
	if ctx.Err() != nil {
		return fail(nil, "registry "+host, ctx.Err())
	}
	var te *transport.Error
	if errors.As(err, &te) {
		err = inWords(err, te)
		switch {
		case te.StatusCode == http.StatusNotFound || hasCode(te, transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode):
			return fail(ErrNotFound, "image not found in registry "+host, err, secrets...)
		case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden ||
			hasCode(te, transport.UnauthorizedErrorCode, transport.DeniedErrorCode):
			return fail(nil, "registry "+host+" refused access (check the credentials for it)", err, secrets...)
		}
	}
	return fail(nil, "registry "+host, err, secrets...)
}

func hasCode(te *transport.Error, codes ...transport.ErrorCode) bool {
	for _, d := range te.Errors {
		for _, c := range codes {
			if d.Code == c {
				return true
			}
		}
	}
	return false
}

// fromDaemon reads an image from the Docker daemon: it saves the image once into a temporary
// file, which Image.Close removes. (go-containerregistry's daemon package either holds the
// whole image in memory, saves it again for every layer read, or leaves its temporary file
// until a garbage collection that a CLI never reaches.)
func fromDaemon(ctx context.Context, r name.Reference) (*Image, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fail(errDaemonDown, "docker daemon not reachable", err)
	}
	defer c.Close()
	pctx, cancel := context.WithTimeout(ctx, daemonPingTimeout)
	_, err = c.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true})
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fail(nil, "docker daemon", ctx.Err())
		}
		return nil, fail(errDaemonDown, "docker daemon not reachable", err)
	}
	classify := func(err error) error {
		switch {
		case ctx.Err() != nil:
			return fail(nil, "docker daemon", ctx.Err())
		case cerrdefs.IsNotFound(err):
			return fail(ErrNotFound, "image not found in the docker daemon", err)
		case client.IsErrConnectionFailed(err):
			return fail(errDaemonDown, "docker daemon not reachable", err)
		}
		return fail(nil, "docker daemon", err)
	}
	insp, err := c.ImageInspect(ctx, r.String())
	if err != nil {
		return nil, classify(err)
	}
	// Saving by ID, not by name, reads the image inspected even if the tag moves meanwhile.
	tmp, err := saveImage(ctx, c, insp.ID)
	if err != nil {
		return nil, classify(err)
	}
	v, err := tarball.Image(archiveOpener(tmp), nil)
	if err == nil {
		var img *Image
		if img, err = complete(Daemon, nameOf(r), v, unreadable); err == nil {
			img.tmp = tmp
			runtime.AddCleanup(img, func(p string) { _ = os.Remove(p) }, tmp)
			return img, nil
		}
	}
	_ = os.Remove(tmp)
	return nil, unreadable(err)
}

// saveImage writes `docker save ID` into a new temporary file and returns its path.
func saveImage(ctx context.Context, c *client.Client, id string) (string, error) {
	f, err := os.CreateTemp("", "plimsoll-docker-save-*.tar")
	if err != nil {
		return "", err
	}
	err = func() error {
		rc, err := c.ImageSave(ctx, []string{id})
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = io.Copy(f, rc)
		return err
	}()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// fromLayout reads an image from an OCI image layout.
func fromLayout(src source) (*Image, error) {
	dir := src.target
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fail(ErrNotFound, "no such directory", nil)
	case err != nil:
		return nil, unreadable(err)
	case !st.IsDir():
		return nil, fail(ErrBadReference, "not a directory (a tarball is docker-archive:PATH)", nil)
	}
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, fail(ErrUnreadable, "not an OCI image layout (no index.json)", nil)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		return nil, unreadable(err)
	}
	owner, desc, err := pickManifest(idx, src)
	if err != nil {
		return nil, err
	}
	v, err := imageOf(owner, desc)
	if err != nil {
		return nil, err
	}
	return complete(OCIDir, layoutName(dir, desc), v, unreadable)
}

// pickManifest finds the descriptor src selects in a layout's index, and the index holding it.
func pickManifest(idx v1.ImageIndex, src source) (v1.ImageIndex, v1.Descriptor, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, v1.Descriptor{}, unreadable(err)
	}
	var descs []v1.Descriptor
	for _, d := range im.Manifests {
		if d.MediaType.IsImage() || d.MediaType.IsIndex() {
			descs = append(descs, d)
		}
	}
	switch {
	case src.byDigest:
		h, err := v1.NewHash(src.selector)
		if err != nil {
			return nil, v1.Descriptor{}, fail(ErrBadReference, "malformed digest", err)
		}
		if owner, d, ok := findDigest(idx, h, 0); ok {
			return owner, d, nil
		}
		return nil, v1.Descriptor{}, fail(ErrNotFound, fmt.Sprintf("image not found in OCI layout: no manifest %s (have %s)", h, listDescs(descs)), nil)
	case src.selector != "":
		var match []v1.Descriptor
		for _, d := range descs {
			if n := d.Annotations[refNameAnnotation]; n == src.selector || tagOf(n) == src.selector {
				match = append(match, d)
			}
		}
		switch len(match) {
		case 0:
			return nil, v1.Descriptor{}, fail(ErrNotFound, fmt.Sprintf("image not found in OCI layout: nothing tagged %q (have %s)", src.selector, listDescs(descs)), nil)
		case 1:
			return idx, match[0], nil
		}
		return nil, v1.Descriptor{}, fail(ErrBadReference, fmt.Sprintf("%d images in the OCI layout are tagged %q; name one by digest (have %s)", len(match), src.selector, listDescs(match)), nil)
	}
	switch len(descs) {
	case 0:
		return nil, v1.Descriptor{}, fail(ErrUnreadable, "the OCI layout holds no image", nil)
	case 1:
		return idx, descs[0], nil
	}
	return nil, v1.Descriptor{}, fail(ErrBadReference, fmt.Sprintf("the OCI layout holds %d images; name one as oci-dir:PATH:TAG or oci-dir:PATH@DIGEST (have %s)", len(descs), listDescs(descs)), nil)
}

// findDigest looks for h in idx and, a few levels deep, in the indexes it holds.
func findDigest(idx v1.ImageIndex, h v1.Hash, depth int) (v1.ImageIndex, v1.Descriptor, bool) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, v1.Descriptor{}, false
	}
	for _, d := range im.Manifests {
		if d.Digest == h {
			return idx, d, true
		}
	}
	if depth >= 3 {
		return nil, v1.Descriptor{}, false
	}
	for _, d := range im.Manifests {
		if !d.MediaType.IsIndex() {
			continue
		}
		if child, err := idx.ImageIndex(d.Digest); err == nil {
			if owner, found, ok := findDigest(child, h, depth+1); ok {
				return owner, found, true
			}
		}
	}
	return nil, v1.Descriptor{}, false
}

// imageOf opens the image d describes; an index resolves to its image for platform.
func imageOf(owner v1.ImageIndex, d v1.Descriptor) (v1.Image, error) {
	if !d.MediaType.IsIndex() {
		v, err := owner.Image(d.Digest)
		if err != nil {
			return nil, unreadable(err)
		}
		return v, nil
	}
	child, err := owner.ImageIndex(d.Digest)
	if err != nil {
		return nil, unreadable(err)
	}
	im, err := child.IndexManifest()
	if err != nil {
		return nil, unreadable(err)
	}
	for _, m := range im.Manifests {
		if m.MediaType.IsImage() && m.Platform != nil && m.Platform.Satisfies(platform) {
			v, err := child.Image(m.Digest)
			if err != nil {
				return nil, unreadable(err)
			}
			return v, nil
		}
	}
	return nil, fail(ErrNotFound, fmt.Sprintf("image not found: index %s has no %s/%s image", d.Digest, platform.OS, platform.Architecture), nil)
}

// layoutName is the repo:tag of a layout's image: a full name from its annotations, or the
// layout directory's name as the repository beside a tag-only ref.name.
func layoutName(dir string, d v1.Descriptor) string {
	if n := d.Annotations[containerdNameAnnotation]; n != "" {
		return n
	}
	n := d.Annotations[refNameAnnotation]
	switch {
	case n == "":
		return ""
	case tagOf(n) != "":
		return n
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	return filepath.Base(abs) + ":" + n
}

// tagOf is the tag of a full reference ("docker.io/library/alpine:3.20" → "3.20"), "" for none.
func tagOf(ref string) string {
	i := strings.LastIndexByte(ref, ':')
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ""
	}
	return ref[i+1:]
}

// listDescs names descriptors for an error: by ref.name, else by short digest.
func listDescs(descs []v1.Descriptor) string {
	var names []string
	for _, d := range descs {
		n := d.Annotations[refNameAnnotation]
		if n == "" {
			n = d.Digest.String()
			n = n[:min(len(n), len("sha256:")+12)]
		}
		names = append(names, n)
	}
	return list(names)
}

// list joins names for an error, at most maxListed of them.
func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	if len(names) > maxListed {
		return strings.Join(names[:maxListed], ", ") + fmt.Sprintf(" and %d more", len(names)-maxListed)
	}
	return strings.Join(names, ", ")
}

// fromArchive reads an image from a `docker save` tarball.
func fromArchive(src source) (*Image, error) {
	path := src.target
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fail(ErrNotFound, "no such file", nil)
	case err != nil:
		return nil, unreadable(err)
	case st.IsDir():
		return nil, fail(ErrBadReference, "is a directory (an OCI layout is oci-dir:PATH)", nil)
	}
	open := archiveOpener(path)
	m, err := tarball.LoadManifest(open)
	if err != nil {
		return nil, fail(ErrUnreadable, "not a readable docker save archive", err)
	}
	var tags []string
	for _, d := range m {
		tags = append(tags, d.RepoTags...)
	}
	var tag *name.Tag
	imgName := ""
	switch {
	case src.selector != "":
		t, err := name.NewTag(src.selector)
		if err != nil {
			return nil, fail(ErrBadReference, "malformed REPO:TAG", err)
		}
		if !archiveHas(m, t) {
			return nil, fail(ErrNotFound, fmt.Sprintf("image not found in archive: nothing tagged %q (have %s)", src.selector, list(tags)), nil)
		}
		tag, imgName = &t, src.selector
	case len(m) == 0:
		return nil, fail(ErrUnreadable, "the archive holds no image", nil)
	case len(m) > 1:
		return nil, fail(ErrBadReference, fmt.Sprintf("the archive holds %d images; name one as docker-archive:PATH:REPO:TAG (have %s)", len(m), list(tags)), nil)
	case len(m[0].RepoTags) > 0:
		imgName = m[0].RepoTags[0]
	}
	v, err := tarball.Image(open, tag)
	if err != nil {
		return nil, unreadable(err)
	}
	return complete(DockerArchive, imgName, v, unreadable)
}

// archiveHas reports whether a docker save manifest has an image tagged t.
func archiveHas(m tarball.Manifest, t name.Tag) bool {
	for _, d := range m {
		for _, s := range d.RepoTags {
			if rt, err := name.NewTag(s); err == nil && rt.Name() == t.Name() {
				return true
			}
		}
	}
	return false
}

// archiveOpener opens a docker save tarball, gunzipping it when it is gzipped. A plain one is
// returned as the file itself, so the tar reader can seek past the layers it skips.
func archiveOpener(path string) tarball.Opener {
	return func() (io.ReadCloser, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		var magic [2]byte
		if n, _ := f.ReadAt(magic[:], 0); n < 2 || magic != [2]byte{0x1f, 0x8b} {
			return f, nil
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, err
		}
		return gzipFile{zr, f}, nil
	}
}

// gzipFile reads a gzipped file and closes both.
type gzipFile struct {
	*gzip.Reader
	f *os.File
}

func (g gzipFile) Close() error { return errors.Join(g.Reader.Close(), g.f.Close()) }
