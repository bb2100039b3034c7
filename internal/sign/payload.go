package sign

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// parsePayload reads a cosign simple-signing payload and returns the manifest digest it signs
// and the reference it claims. Only the digest binds the signature to an image.
func parsePayload(b []byte) (v1.Hash, string, error) {
	var p payload.SimpleContainerImage
	if err := json.Unmarshal(b, &p); err != nil {
		return v1.Hash{}, "", fmt.Errorf("payload is not simple-signing JSON: %w", err)
	}
	if p.Critical.Type != payload.CosignSignatureType {
		return v1.Hash{}, "", fmt.Errorf("payload type is %q, not %q", p.Critical.Type, payload.CosignSignatureType)
	}
	if p.Critical.Image.DockerManifestDigest == "" {
		return v1.Hash{}, "", errors.New("payload names no critical.image.docker-manifest-digest")
	}
	h, err := v1.NewHash(p.Critical.Image.DockerManifestDigest)
	if err != nil {
		return v1.Hash{}, "", fmt.Errorf("payload digest: %w", err)
	}
	return h, p.Critical.Identity.DockerReference, nil
}

// inTotoPayloadType is the DSSE payload type of an in-toto statement.
const inTotoPayloadType = "application/vnd.in-toto+json"

// statement is what a signature check reads of an in-toto statement.
type statement struct {
	Type          string    `json:"_type"`
	PredicateType string    `json:"predicateType"`
	Subject       []subject `json:"subject"`
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// parseStatement reads an in-toto statement (v0.1 or v1).
func parseStatement(b []byte) (statement, error) {
	var s statement
	if err := json.Unmarshal(b, &s); err != nil {
		return statement{}, fmt.Errorf("not an in-toto statement: %w", err)
	}
	if s.Type != "https://in-toto.io/Statement/v1" && s.Type != "https://in-toto.io/Statement/v0.1" {
		return statement{}, fmt.Errorf("statement type is %q, not an in-toto statement", s.Type)
	}
	return s, nil
}

// names reports whether one of the statement's subjects is the manifest d.
func (s statement) names(d v1.Hash) bool {
	for _, sub := range s.Subject {
		if strings.ToLower(sub.Digest[d.Algorithm]) == d.Hex {
			return true
		}
	}
	return false
}
