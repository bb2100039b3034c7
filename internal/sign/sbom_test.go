package sign

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/sign/signtest"
)

const spdxDoc = `{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"app","packages":[]}`

// attachTag pushes a cosign-style tag sha256-<subject>.<suffix> with one layer.
func attachTag(t *testing.T, repo name.Repository, subject v1.Hash, suffix string, mt types.MediaType, content string, ann map[string]string) {
	t.Helper()
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{Layer: static.NewLayer([]byte(content), mt), Annotations: ann})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(repo.Tag(tagFor(subject, suffix)), img); err != nil {
		t.Fatal(err)
	}
}

func TestFindSBOMs(t *testing.T) {
	key := signtest.NewKeySigner(t)
	tests := []struct {
		name      string
		referrers bool
		attach    func(t *testing.T, repo name.Repository, img *image.Image)
		// want is "format how" of each SBOM found, in order.
		want []string
	}{
		{name: "nothing attached"},
		{name: "SPDX referrer", referrers: true, attach: func(t *testing.T, repo name.Repository, img *image.Image) {
			signtest.PutReferrer(t, repo, img.Digest, "application/spdx+json", "application/spdx+json", []byte(spdxDoc), nil)
		}, want: []string{"SPDX OCI referrer"}},
		{name: "SPDX referrer through the fallback tag", attach: func(t *testing.T, repo name.Repository, img *image.Image) {
			signtest.PutReferrer(t, repo, img.Digest, "application/spdx+json", "application/spdx+json", []byte(spdxDoc), nil)
		}, want: []string{"SPDX OCI referrer"}},
		{name: "referrer without artifact type, CycloneDX layer", referrers: true, attach: func(t *testing.T, repo name.Repository, img *image.Image) {
			signtest.PutReferrer(t, repo, img.Digest, "", "application/vnd.cyclonedx+json", []byte(`{"bomFormat":"CycloneDX"}`), nil)
		}, want: []string{"CycloneDX OCI referrer"}},
		{name: "bundle attestation of an SPDX predicate", referrers: true, attach: func(t *testing.T, repo name.Repository, img *image.Image) {
			b := signtest.Bundle(t, repo, img.Digest, "https://spdx.dev/Document", key)
			signtest.PutReferrer(t, repo, img.Digest, signtest.BundleMediaType, signtest.BundleMediaType, b, map[string]string{predicateTypeAnnotation: "https://spdx.dev/Document"})
		}, want: []string{"SPDX sigstore bundle attestation"}},
		{name: "signature bundle is no SBOM", referrers: true, attach: func(t *testing.T, repo name.Repository, img *image.Image) {
			signtest.SignBundle(t, repo, img.Digest, img.Digest, key)
		}},
		{name: "unrelated referrer", referrers: true, attach: func(t *testing.T, repo name.Repository, img *image.Image) {
			signtest.PutReferrer(t, repo, img.Digest, "application/vnd.example.readme", "text/markdown", []byte("# hi"), nil)
		}},
		{name: "cosign attest tag", attach: func(t *testing.T, repo name.Repository, img *image.Image) {
			attachTag(t, repo, img.Digest, "att", "application/vnd.dsse.envelope.v1+json", `{"payloadType":"application/vnd.in-toto+json"}`,
				map[string]string{"predicateType": "https://cyclonedx.org/bom"})
		}, want: []string{"CycloneDX cosign tag sha256-"}},
		{name: "cosign attest tag of provenance only", attach: func(t *testing.T, repo name.Repository, img *image.Image) {
			attachTag(t, repo, img.Digest, "att", "application/vnd.dsse.envelope.v1+json", `{}`,
				map[string]string{"predicateType": "https://slsa.dev/provenance/v1"})
		}},
		{name: "cosign attach sbom tag", attach: func(t *testing.T, repo name.Repository, img *image.Image) {
			attachTag(t, repo, img.Digest, "sbom", "text/spdx+json", spdxDoc, nil)
		}, want: []string{"SPDX cosign tag sha256-"}},
		{name: "SBOM of another image", referrers: true, attach: func(t *testing.T, repo name.Repository, img *image.Image) {
			other := signtest.Push(t, repo.Name()+":other", signtest.RandomImage(t))
			signtest.PutReferrer(t, repo, other.Digest, "application/spdx+json", "application/spdx+json", []byte(spdxDoc), nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := signtest.StartRegistry(t, tt.referrers)
			img := signtest.Push(t, host+"/app:1", signtest.RandomImage(t))
			repo, err := name.NewRepository(host + "/app")
			if err != nil {
				t.Fatal(err)
			}
			if tt.attach != nil {
				tt.attach(t, repo, img)
			}
			got, err := FindSBOMs(context.Background(), img)
			if err != nil {
				t.Fatal(err)
			}
			if got.Where != "registry "+repo.Name() {
				t.Errorf("where = %q", got.Where)
			}
			if len(got.Found) != len(tt.want) {
				t.Fatalf("found %+v, want %q", got.Found, tt.want)
			}
			for i, s := range got.Found {
				if g := s.Format + " " + s.How; !strings.HasPrefix(g, tt.want[i]) || s.Subject != img.Digest {
					t.Errorf("found %q (subject %s), want %q (subject %s)", g, s.Subject, tt.want[i], img.Digest)
				}
			}
		})
	}
}

func TestFindSBOMsOtherTransports(t *testing.T) {
	t.Run("docker-archive", func(t *testing.T) {
		_, err := FindSBOMs(context.Background(), &image.Image{Ref: "docker-archive:app.tar", Transport: image.DockerArchive})
		if !errors.Is(err, ErrNoRegistry) || errors.Is(err, ErrNotVerified) {
			t.Fatalf("err = %v, want ErrNoRegistry alone", err)
		}
	})
	t.Run("oci layout with an SBOM referrer", func(t *testing.T) {
		dir, d := layoutWith(t, signtest.RandomImage(t), func(v1.Hash) ([]byte, string) {
			return []byte(`{"bomFormat":"CycloneDX"}`), "application/vnd.cyclonedx+json"
		})
		got, err := FindSBOMs(context.Background(), signtest.Resolve(t, "oci-dir:"+dir+"@"+d.String()))
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Found) != 1 || got.Found[0].Format != "CycloneDX" {
			t.Errorf("found %+v", got.Found)
		}
	})
}

func TestFormats(t *testing.T) {
	media := map[string]string{
		"application/spdx+json": "SPDX", "text/spdx": "SPDX", "text/spdx+json": "SPDX", "application/vnd.spdx+json": "SPDX",
		"application/vnd.cyclonedx+json": "CycloneDX", "application/vnd.cyclonedx+xml": "CycloneDX", "APPLICATION/VND.CYCLONEDX": "CycloneDX",
		"application/vnd.syft+json": "", "application/vnd.oci.image.layer.v1.tar+gzip": "", "": "",
	}
	for mt, want := range media {
		if got := formatOfMediaType(mt); got != want {
			t.Errorf("formatOfMediaType(%q) = %q, want %q", mt, got, want)
		}
	}
	preds := map[string]string{
		"https://spdx.dev/Document": "SPDX", "https://spdx.dev/Document/v2.3": "SPDX",
		"https://cyclonedx.org/bom": "CycloneDX", "https://cyclonedx.org/bom/v1.5": "CycloneDX",
		"https://slsa.dev/provenance/v1": "", signPredicateType: "", "": "",
	}
	for pt, want := range preds {
		if got := formatOfPredicate(pt); got != want {
			t.Errorf("formatOfPredicate(%q) = %q, want %q", pt, got, want)
		}
	}
}
