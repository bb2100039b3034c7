package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
)

// refHelp explains image references; every command that takes images shows it.
const refHelp = `Images are named as:
  registry:HOST/REPO[:TAG|@DIGEST]   an OCI or Docker registry (credentials from the Docker config)
  docker:REPO[:TAG]                  the local Docker daemon ($DOCKER_HOST honoured)
  oci-dir:PATH[:TAG|@DIGEST]         an OCI image layout directory
  docker-archive:PATH[:REPO:TAG]     a 'docker save' tarball
  REPO[:TAG], PATH                   a directory is an OCI layout, a file a docker-archive; otherwise
                                     the daemon is tried first, then the registry`

// common are the flags every command that reads images and policies shares.
type common struct {
	policyPath string
	hotfix     []string
	cache      string
	insecure   bool
	verbose    bool
}

func (c *common) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&c.policyPath, "policy", "p", "", "policy file (apiVersion: plimsoll/v1); default: the built-in seed policy")
	fl.StringSliceVar(&c.hotfix, "hotfix", nil, "plan a hotfix: these CVEs must be gone from NEW")
	fl.StringVar(&c.cache, "cache-dir", "", "cache of layer-derived results (default: $XDG_CACHE_HOME/plimsoll)")
	fl.BoolVar(&c.insecure, "insecure-registry", false, "allow plain-HTTP registries beyond loopback")
	fl.BoolVarP(&c.verbose, "verbose", "v", false, "log diagnostics to stderr")
}

func (c *common) policy(ctx context.Context) (*config.Policy, error) {
	if c.policyPath == "" {
		return config.Default(), nil
	}
	p, err := config.Load(ctx, c.policyPath)
	if err != nil && !errors.Is(err, config.ErrInvalid) {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err) // a policy file that cannot be read is a usage error
	}
	return p, err
}

// policyDir is where paths in the policy file are read from: its folder, or the working directory.
func (c *common) policyDir() string {
	if c.policyPath == "" {
		return "."
	}
	return filepath.Dir(c.policyPath)
}

func (c *common) imageOptions() image.Options { return image.Options{Insecure: c.insecure} }

func (c *common) cacheDir() string {
	if c.cache != "" {
		return c.cache
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "plimsoll")
	}
	return filepath.Join(os.TempDir(), "plimsoll-cache")
}

func (c *common) logger(w io.Writer) *slog.Logger {
	if !c.verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
