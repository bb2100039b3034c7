package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// Router splits traffic between the primary and the canary.
//
// Prepare makes the route able to split (a canary backend beside the primary's); it keeps the
// weight a prepared route already has. SetWeight sends w % (0..100) of the traffic to the
// canary and returns once the API server has it; it is idempotent. Weight reads it back.
type Router interface {
	Prepare(ctx context.Context) error
	SetWeight(ctx context.Context, w int) error
	Weight(ctx context.Context) (int, error)
}

// ErrBadWeight is returned (wrapped) for a weight a router cannot set.
var ErrBadWeight = errors.New("bad weight")

func checkWeight(w int) error {
	if w < 0 || w > 100 {
		return fmt.Errorf("%w: %d: want 0..100", ErrBadWeight, w)
	}
	return nil
}

// ensureCanaryService creates or updates NAME-canary beside Service NAME: the same ports,
// selecting the canary's pods.
func ensureCanaryService(ctx context.Context, c kubernetes.Interface, ns, name string) error {
	api := c.CoreV1().Services(ns)
	primary, err := api.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading service %s/%s: %w", ns, name, err)
	}
	if len(primary.Spec.Selector) == 0 {
		return fmt.Errorf("%w: service %s has no selector", ErrUnsupported, name)
	}
	sel, err := canaryLabels(primary.Spec.Selector)
	if err != nil {
		return err
	}
	ports := make([]corev1.ServicePort, len(primary.Spec.Ports))
	for i, p := range primary.Spec.Ports {
		ports[i] = corev1.ServicePort{Name: p.Name, Protocol: p.Protocol, Port: p.Port, TargetPort: p.TargetPort, AppProtocol: p.AppProtocol}
	}
	want := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name + CanarySuffix, Namespace: ns,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "plimsoll", "plimsoll.dev/primary": name}},
		Spec: corev1.ServiceSpec{Selector: sel, Ports: ports, Type: corev1.ServiceTypeClusterIP},
	}
	_, err = api.Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := api.Get(ctx, want.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			cur.Spec.Selector, cur.Spec.Ports = sel, ports
			_, err = api.Update(ctx, cur, metav1.UpdateOptions{})
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("preparing service %s/%s: %w", ns, want.Name, err)
	}
	return nil
}

// HTTPRouteGVR is the Gateway API resource the HTTPRoute router edits.
var HTTPRouteGVR = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

// HTTPRoute routes by the weights of a Gateway API HTTPRoute's backendRefs: in every rule
// whose one backend is Service S, a backend S-canary is added, and the weights become
// 100−w and w.
type HTTPRoute struct {
	Dynamic   dynamic.Interface
	Client    kubernetes.Interface // creates the canary Services
	Namespace string
	Name      string
}

// split is one rule's primary and canary backend.
type split struct {
	rule            map[string]any
	primary, canary map[string]any
}

// splits finds the primary and canary backend of every rule of route, in a copy of its
// rules (which update writes back).
func (h *HTTPRoute) splits(route *unstructured.Unstructured) ([]any, []split, error) {
	rules, _, err := unstructured.NestedSlice(route.Object, "spec", "rules")
	if err != nil {
		return nil, nil, fmt.Errorf("httproute %s: spec.rules: %w", h.Name, err)
	}
	var out []split
	for i, r := range rules {
		rule, ok := r.(map[string]any)
		if !ok {
			return nil, nil, fmt.Errorf("httproute %s: rule %d is not an object", h.Name, i)
		}
		refs, _ := rule["backendRefs"].([]any)
		var sp split
		sp.rule = rule
		for _, ref := range refs {
			b, ok := ref.(map[string]any)
			if !ok {
				continue
			}
			if k, _ := b["kind"].(string); k != "" && k != "Service" {
				return nil, nil, fmt.Errorf("%w: httproute %s rule %d has a %s backend", ErrUnsupported, h.Name, i, k)
			}
			name, _ := b["name"].(string)
			switch {
			case strings.HasSuffix(name, CanarySuffix):
				sp.canary = b
			case sp.primary != nil:
				return nil, nil, fmt.Errorf("%w: httproute %s rule %d has several backends; plimsoll splits one", ErrUnsupported, h.Name, i)
			default:
				sp.primary = b
			}
		}
		if sp.primary != nil {
			out = append(out, sp)
		}
	}
	if len(out) == 0 {
		return nil, nil, fmt.Errorf("%w: httproute %s has no Service backend to split", ErrUnsupported, h.Name)
	}
	return rules, out, nil
}

// Prepare implements Router.
func (h *HTTPRoute) Prepare(ctx context.Context) error {
	return h.update(ctx, func(sps []split) error {
		for _, sp := range sps {
			name, _ := sp.primary["name"].(string)
			if err := ensureCanaryService(ctx, h.Client, h.Namespace, name); err != nil {
				return err
			}
			if sp.canary != nil {
				continue
			}
			c := maps.Clone(sp.primary)
			c["name"] = name + CanarySuffix
			c["weight"] = int64(0)
			sp.primary["weight"] = int64(100)
			refs, _ := sp.rule["backendRefs"].([]any)
			sp.rule["backendRefs"] = append(refs, c)
		}
		return nil
	})
}

// update reads the route, lets f change its splits in place and writes it, retrying on
// conflicts.
func (h *HTTPRoute) update(ctx context.Context, f func([]split) error) error {
	api := h.Dynamic.Resource(HTTPRouteGVR).Namespace(h.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		route, err := api.Get(ctx, h.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		rules, sps, err := h.splits(route)
		if err != nil {
			return err
		}
		if err := f(sps); err != nil {
			return err
		}
		if err := unstructured.SetNestedSlice(route.Object, rules, "spec", "rules"); err != nil {
			return err
		}
		_, err = api.Update(ctx, route, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("httproute %s/%s: %w", h.Namespace, h.Name, err)
	}
	return nil
}

// SetWeight implements Router.
func (h *HTTPRoute) SetWeight(ctx context.Context, w int) error {
	if err := checkWeight(w); err != nil {
		return err
	}
	return h.update(ctx, func(sps []split) error {
		for _, sp := range sps {
			if sp.canary == nil {
				return fmt.Errorf("httproute %s is not prepared: no canary backend", h.Name)
			}
			sp.primary["weight"], sp.canary["weight"] = int64(100-w), int64(w)
		}
		return nil
	})
}

// Weight implements Router: the canary weight of the first split rule, as a percentage of
// the rule's total (0 when the route has no canary backend).
func (h *HTTPRoute) Weight(ctx context.Context) (int, error) {
	route, err := h.Dynamic.Resource(HTTPRouteGVR).Namespace(h.Namespace).Get(ctx, h.Name, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("httproute %s/%s: %w", h.Namespace, h.Name, err)
	}
	_, sps, err := h.splits(route)
	if err != nil {
		return 0, err
	}
	sp := sps[0]
	if sp.canary == nil {
		return 0, nil
	}
	p, c := refWeight(sp.primary), refWeight(sp.canary)
	if p+c == 0 {
		return 0, nil
	}
	return int(c * 100 / (p + c)), nil
}

// refWeight is a backendRef's weight; Gateway API's default is 1.
func refWeight(b map[string]any) int64 {
	switch v := b["weight"].(type) {
	case int64:
		return v
	case float64:
		return int64(v)
	case nil:
		return 1
	}
	return 0
}

// Ingress-nginx canary annotations.
const (
	nginxCanary       = "nginx.ingress.kubernetes.io/canary"
	nginxCanaryWeight = "nginx.ingress.kubernetes.io/canary-weight"
)

// NginxIngress routes with ingress-nginx's canary annotations: an Ingress NAME-canary with the
// rules of Ingress NAME, whose backends are the canary Services, marked canary with a weight.
type NginxIngress struct {
	Client    kubernetes.Interface
	Namespace string
	Name      string
}

// CanaryName is the canary Ingress's name.
func (n *NginxIngress) CanaryName() string { return n.Name + CanarySuffix }

// Prepare implements Router.
func (n *NginxIngress) Prepare(ctx context.Context) error {
	api := n.Client.NetworkingV1().Ingresses(n.Namespace)
	primary, err := api.Get(ctx, n.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading ingress %s/%s: %w", n.Namespace, n.Name, err)
	}
	spec := *primary.Spec.DeepCopy()
	services := map[string]bool{}
	canaryBackend := func(b *networkingv1.IngressBackend) {
		if b == nil || b.Service == nil {
			return
		}
		services[b.Service.Name] = true
		b.Service.Name += CanarySuffix
	}
	canaryBackend(spec.DefaultBackend)
	for i := range spec.Rules {
		if spec.Rules[i].HTTP == nil {
			continue
		}
		for j := range spec.Rules[i].HTTP.Paths {
			canaryBackend(&spec.Rules[i].HTTP.Paths[j].Backend)
		}
	}
	if len(services) == 0 {
		return fmt.Errorf("%w: ingress %s has no Service backend", ErrUnsupported, n.Name)
	}
	for s := range services {
		if err := ensureCanaryService(ctx, n.Client, n.Namespace, s); err != nil {
			return err
		}
	}
	want := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: n.CanaryName(), Namespace: n.Namespace,
			Labels:      map[string]string{"app.kubernetes.io/managed-by": "plimsoll", "plimsoll.dev/primary": n.Name},
			Annotations: map[string]string{nginxCanary: "true", nginxCanaryWeight: "0"}},
		Spec: spec,
	}
	_, err = api.Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := api.Get(ctx, want.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if w, ok := cur.Annotations[nginxCanaryWeight]; ok {
				want.Annotations[nginxCanaryWeight] = w // a prepared route keeps its weight
			}
			cur.Labels, cur.Annotations, cur.Spec = want.Labels, want.Annotations, want.Spec
			_, err = api.Update(ctx, cur, metav1.UpdateOptions{})
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("preparing ingress %s/%s: %w", n.Namespace, want.Name, err)
	}
	return nil
}

// SetWeight implements Router.
func (n *NginxIngress) SetWeight(ctx context.Context, w int) error {
	if err := checkWeight(w); err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{nginxCanaryWeight: strconv.Itoa(w)}}})
	if err != nil {
		return err
	}
	if _, err := n.Client.NetworkingV1().Ingresses(n.Namespace).Patch(ctx, n.CanaryName(), types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("ingress %s/%s: setting the canary weight to %d: %w", n.Namespace, n.CanaryName(), w, err)
	}
	return nil
}

// Weight implements Router: 0 when there is no canary Ingress.
func (n *NginxIngress) Weight(ctx context.Context) (int, error) {
	ing, err := n.Client.NetworkingV1().Ingresses(n.Namespace).Get(ctx, n.CanaryName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading ingress %s/%s: %w", n.Namespace, n.CanaryName(), err)
	}
	if ing.Annotations[nginxCanary] != "true" {
		return 0, nil
	}
	w, err := strconv.Atoi(ing.Annotations[nginxCanaryWeight])
	if err != nil {
		return 0, fmt.Errorf("ingress %s/%s: %s %q: %w", n.Namespace, n.CanaryName(), nginxCanaryWeight, ing.Annotations[nginxCanaryWeight], err)
	}
	return w, nil
}

// ServiceSelector is the blue/green router: Service NAME selects the primary's (blue) pods at
// weight 0 and the canary's (green) pods at weight 100. Nothing in between.
type ServiceSelector struct {
	Client    kubernetes.Interface
	Namespace string
	Name      string
}

// Prepare implements Router: the Service must select pods by labels.
func (s *ServiceSelector) Prepare(ctx context.Context) error {
	svc, err := s.Client.CoreV1().Services(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading service %s/%s: %w", s.Namespace, s.Name, err)
	}
	if len(svc.Spec.Selector) == 0 {
		return fmt.Errorf("%w: service %s has no selector", ErrUnsupported, s.Name)
	}
	return nil
}

// green reports whether sel selects the canary's pods.
func green(sel map[string]string) bool {
	for _, v := range sel {
		if !strings.HasSuffix(v, CanarySuffix) {
			return false
		}
	}
	return len(sel) > 0
}

// SetWeight implements Router: 0 or 100 only.
func (s *ServiceSelector) SetWeight(ctx context.Context, w int) error {
	if w != 0 && w != 100 {
		return fmt.Errorf("%w: %d: a Service selector switches 0 or 100", ErrBadWeight, w)
	}
	api := s.Client.CoreV1().Services(s.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		svc, err := api.Get(ctx, s.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if green(svc.Spec.Selector) == (w == 100) {
			return nil
		}
		sel := make(map[string]string, len(svc.Spec.Selector))
		if w == 100 {
			if sel, err = canaryLabels(svc.Spec.Selector); err != nil {
				return err
			}
		} else {
			for k, v := range svc.Spec.Selector {
				sel[k] = strings.TrimSuffix(v, CanarySuffix)
			}
		}
		svc.Spec.Selector = sel
		_, err = api.Update(ctx, svc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("service %s/%s: switching to weight %d: %w", s.Namespace, s.Name, w, err)
	}
	return nil
}

// Weight implements Router.
func (s *ServiceSelector) Weight(ctx context.Context) (int, error) {
	svc, err := s.Client.CoreV1().Services(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("reading service %s/%s: %w", s.Namespace, s.Name, err)
	}
	if green(svc.Spec.Selector) {
		return 100, nil
	}
	return 0, nil
}
