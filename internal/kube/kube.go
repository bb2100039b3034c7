// Package kube is plimsoll's Kubernetes toolkit for delivery: clients built from a kubeconfig
// the way kubectl builds them (--kubeconfig, $KUBECONFIG, --context, -n), the revision history
// of a Deployment, waiting for a Deployment's rollout with `kubectl rollout status` semantics,
// and Rollback, which is `kubectl rollout undo` followed by a wait, a verification and an
// audit annotation. internal/rollout builds progressive delivery on the same helpers.
package kube

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ErrBadWorkload is returned (wrapped) for a workload name that is not deploy/NAME.
var ErrBadWorkload = errors.New("bad workload name")

// ClientOptions say where a client's configuration comes from, as kubectl's flags do.
type ClientOptions struct {
	// Kubeconfig is a kubeconfig file; "" means $KUBECONFIG, else ~/.kube/config, else the
	// in-cluster configuration.
	Kubeconfig string
	// Context is the kubeconfig context to use; "" means its current context.
	Context string
	// Namespace overrides the context's namespace; "" means the context's, else "default".
	Namespace string
}

// Config loads the REST configuration and the namespace the options select.
func (o ClientOptions) Config() (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.Context}
	overrides.Context.Namespace = o.Namespace
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubernetes client configuration: %w", err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("kubernetes namespace: %w", err)
	}
	cfg.UserAgent = "plimsoll"
	return cfg, ns, nil
}

// Client builds a clientset and returns it with the namespace the options select.
func (o ClientOptions) Client() (kubernetes.Interface, string, error) {
	cfg, ns, err := o.Config()
	if err != nil {
		return nil, "", err
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("kubernetes client: %w", err)
	}
	return c, ns, nil
}

// ParseDeployment reads a workload argument: deploy/NAME, deployment/NAME or
// deployments/NAME (with an optional ".apps" group), the spellings kubectl accepts.
func ParseDeployment(arg string) (string, error) {
	kind, name, ok := strings.Cut(arg, "/")
	switch strings.TrimSuffix(strings.ToLower(kind), ".apps") {
	case "deploy", "deployment", "deployments":
	default:
		ok = false
	}
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("%w %q: want deploy/NAME", ErrBadWorkload, arg)
	}
	return name, nil
}
