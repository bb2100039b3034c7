// Package image turns a reference into a digest-pinned image and reads what is inside it: the
// config, the flattened filesystem (whiteouts honoured) and the facts the upgrade plan needs.
// It is a thin layer over go-containerregistry; v1.Image stays the seam.
//
// # References
//
// Resolve reads syft's vocabulary:
//
//	registry:REF                   a registry; REF is host/repo:tag or host/repo@sha256:…
//	                               (localhost and 127.0.0.1 are spoken to over plain http;
//	                               other hosts only with Options.Insecure)
//	docker:REF                     the local Docker daemon ($DOCKER_HOST or the default socket)
//	oci-dir:PATH                   an OCI image layout holding exactly one image
//	oci-dir:PATH:TAG               the image whose org.opencontainers.image.ref.name is TAG
//	oci-dir:PATH@sha256:…          the image (or platform manifest) with that digest
//	docker-archive:PATH            a `docker save` tarball (plain or gzipped) holding one image
//	docker-archive:PATH:REPO:TAG   the image tagged REPO:TAG in a tarball of several
//	ARG                            an existing directory is an oci-dir, an existing file a
//	                               docker-archive; anything else is an image reference, looked
//	                               up in the Docker daemon first and then in its registry
//
// A PATH ends at the first colon; a path that itself holds a colon is taken whole when the
// whole of it exists. A multi-platform index resolves to its linux/GOARCH image.
//
// # Errors
//
// Resolve's errors are one line, name the reference, never carry credentials, and wrap
// ErrBadReference, ErrNotFound or ErrUnreadable where a caller may want to branch.
package image

import (
	"context"
	"errors"
	"io/fs"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Transport says where an image was read from.
type Transport string

// The transports plimsoll reads images from.
const (
	Registry      Transport = "registry"       // an OCI or Docker registry (registry:REF, or a bare REF not in the daemon)
	Daemon        Transport = "docker"         // the local Docker daemon (docker:REF, or a bare REF found there)
	OCIDir        Transport = "oci-dir"        // an OCI image layout directory (oci-dir:PATH[:TAG|@DIGEST])
	DockerArchive Transport = "docker-archive" // a `docker save` tarball (docker-archive:PATH[:REF])
)

// Image is one resolved image, pinned to its manifest digest.
type Image struct {
	// Ref is the reference as the user wrote it.
	Ref string
	// Transport is where the image was read from.
	Transport Transport
	// Name is the repository and tag the image is known by ("alpine:3.20.3"), "" when it has none.
	// The upgrade plan reads versions from its tag.
	Name string
	// Repository is the registry repository the image was read from ("127.0.0.1:5000/lib/app"),
	// "" for the other transports: with Digest, what a cluster's nodes pull.
	Repository string
	// Digest is the manifest digest.
	Digest v1.Hash
	// Img is the image itself.
	Img v1.Image
	// Config is the image's config file.
	Config *v1.ConfigFile

	// reopen returns Img again with its blob reads bound to ctx (registry images, whose layers
	// are fetched lazily); nil when reading Img needs no context.
	reopen func(ctx context.Context) (v1.Image, error)
	// headBlob confirms that the blob with a digest exists without reading it (a registry's
	// HEAD); nil to open and close the blob instead (a file in a layout or a tarball).
	headBlob func(ctx context.Context, d v1.Hash) error
	// secrets are the credential strings Resolve used; error texts are scrubbed of them.
	secrets []string
	// tmp is the temporary `docker save` file a daemon image is read from, "" for none.
	tmp string
}

// Close removes the temporary file a daemon image is read from (Img cannot be read after it).
// For other transports it does nothing. It is safe to call more than once; an Image that is
// never closed has its file removed when it is garbage-collected.
func (i *Image) Close() error {
	if i.tmp == "" {
		return nil
	}
	err := os.Remove(i.tmp)
	i.tmp = ""
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
