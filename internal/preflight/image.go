package preflight

import (
	"context"
	"fmt"

	"github.com/plimsoll/plimsoll/internal/check"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/sign"
)

// CheckSignature is the name of the image signature check.
const CheckSignature = "image-signature"

// Signature checks that img carries a signature v verifies (internal/sign: cosign's classic
// signatures and Sigstore bundles, in a registry or an OCI layout). With no verifier (the
// policy configures no signature) the check is skipped. A missing or bad signature fails when
// required, and warns otherwise, as Layer 5 does.
func Signature(ctx context.Context, img *image.Image, v *sign.Verifier, required bool) check.Result {
	res := check.Result{Check: CheckSignature, Source: img.Ref}
	if v == nil {
		res.Status, res.Message = check.StatusSkipped, "the policy configures no signature (harden.signature)"
		return res
	}
	r, err := v.Verify(ctx, img)
	res.Threshold, res.Data = r.Policy, r
	if err != nil {
		res.Status, res.Message = check.StatusWarn, "not signed as the policy requires: "+err.Error()
		if required {
			res.Status = check.StatusFail
		}
		return res
	}
	res.Status = check.StatusPass
	res.Message = fmt.Sprintf("%s is signed: %d of %d signatures verify with %s", img.Digest, len(r.Verified), r.Found, r.Policy)
	return res
}
