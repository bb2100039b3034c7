package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/plimsoll/plimsoll/internal/serve"
)

func newServeCmd() *cobra.Command {
	var (
		dsn, addr, token string
		c                common
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the recorded runs as web pages and a JSON API (read-only)",
		Long: `serve shows the store of runs in a browser: the runs with their verdicts (/), one run's
report (/runs/ID), and the trends of an image repository (/trends?image=REPO: verdicts over time,
p95 latency and RSS over versions), and the patch ledger (/ledger: time to patch, remediation by
severity, regressions, changelog). The same data is JSON under /api/runs, /api/runs/ID,
/api/trends?image=REPO and /api/ledger. Nothing can be changed through it.

Listening beyond loopback needs a token (--token or $PLIMSOLL_SERVE_TOKEN), sent as
"Authorization: Bearer TOKEN" or once in a browser as ?token=TOKEN. A token has at least 16
characters that are not spaces, and no leading or trailing white space.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if token == "" {
				token = os.Getenv("PLIMSOLL_SERVE_TOKEN")
			}
			loopback, err := isLoopback(addr)
			if err != nil {
				return fmt.Errorf("%w: --addr %q: %v", ErrUsage, addr, err)
			}
			if !loopback && token == "" {
				return fmt.Errorf("%w: --addr %s listens beyond loopback: set --token or $PLIMSOLL_SERVE_TOKEN", ErrUsage, addr)
			}
			if token != "" {
				if err := serve.CheckToken(token); err != nil {
					return fmt.Errorf("%w: --token or $PLIMSOLL_SERVE_TOKEN: %w", ErrUsage, err)
				}
			}
			pol, err := c.policy(cmd.Context())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := openHistory(ctx, dsn)
			if err != nil {
				return err
			}
			defer st.Close()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			srv := &http.Server{Handler: serve.Handler(st, serve.Options{Token: token, Log: log,
				RegressionWindow: pol.Patches.Regression()}),
				ReadHeaderTimeout: 10 * time.Second}
			fmt.Fprintf(cmd.OutOrStdout(), "plimsoll serve: http://%s/\n", ln.Addr())
			return listen(ctx, srv, ln)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dsn, "store", "", storeHelp)
	fl.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	fl.StringVarP(&c.policyPath, "policy", "p", "", "policy file (its patches.regressionWindow, for the ledger); default: the built-in seed policy")
	fl.StringVar(&token, "token", "", "require this token (at least 16 non-space characters) on every request (default $PLIMSOLL_SERVE_TOKEN)")
	return cmd
}

// listen serves on ln until ctx ends, then shuts down gracefully; an interrupt is a clean stop.
func listen(ctx context.Context, srv *http.Server, ln net.Listener) error {
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// isLoopback says whether addr ("host:port") listens on loopback only. An empty host or an
// unspecified address listens everywhere; a name counts when every address it has is loopback.
func isLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	if host == "" {
		return false, nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback(), nil
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return false, err
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return false, nil
		}
	}
	return len(ips) > 0, nil
}
