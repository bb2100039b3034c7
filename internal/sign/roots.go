package sign

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// RootFileEnv names the PEM file of trusted certificate authorities for keyless verification
// when WithRoots gives none: cosign's own variable.
const RootFileEnv = "SIGSTORE_ROOT_FILE"

// errNoRoots says keyless verification has no certificate authority to trust.
var errNoRoots = errors.New("keyless verification needs the certificate authorities to trust: set " + RootFileEnv +
	" to a PEM file of the Fulcio root and intermediate certificates")

// trustedCAs returns the roots and intermediates keyless verification trusts.
func trustedCAs(o options) (roots, intermediates *x509.CertPool, err error) {
	certs := o.roots
	if len(certs) == 0 {
		path := os.Getenv(RootFileEnv)
		if path == "" {
			return nil, nil, errNoRoots
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", RootFileEnv, err)
		}
		if certs, err = cryptoutils.UnmarshalCertificatesFromPEM(b); err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", RootFileEnv, path, err)
		}
	}
	roots, intermediates = x509.NewCertPool(), x509.NewCertPool()
	n := 0
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
			roots.AddCert(c)
			n++
		} else {
			intermediates.AddCert(c)
		}
	}
	if n == 0 {
		return nil, nil, errors.New("keyless verification: no self-signed root certificate among the trusted certificates")
	}
	return roots, intermediates, nil
}
