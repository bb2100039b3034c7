package preflight

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/plimsoll/plimsoll/internal/check"
)

// cluster holds the clients of one preflight run.
type cluster struct {
	ns     string
	client kubernetes.Interface
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

func newCluster(cfg *rest.Config, ns string) (*cluster, error) {
	if ns == "" {
		ns = "default"
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes dynamic client: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Discovery()))
	return &cluster{ns: ns, client: c, dyn: dyn, mapper: mapper}, nil
}

// dryRun sends every object to the API server as a server-side dry run (DryRun=All): a create
// for a new object, a server-side apply for an existing one. Admission, validation and RBAC
// all run; nothing is stored.
func (c *cluster) dryRun(ctx context.Context, objs []*unstructured.Unstructured) check.Result {
	res := check.Result{Check: CheckDryRun, Status: check.StatusPass}
	tab := check.Table{Title: "server-side dry run", Columns: []string{"object", "operation", "result"}}
	var bad []string
	for _, u := range objs {
		op, err := c.dryRunOne(ctx, u.DeepCopy())
		row := []string{ref(u), op, "accepted"}
		if err != nil {
			row[2] = err.Error()
			bad = append(bad, ref(u)+": "+err.Error())
			st := check.StatusFail
			if !isRejection(err) {
				st = check.StatusError
			}
			res.Status = check.Worst(res.Status, st)
		}
		tab.Rows = append(tab.Rows, row)
	}
	res.Tables = []check.Table{tab}
	res.Measured = fmt.Sprintf("%d of %d accepted", len(objs)-len(bad), len(objs))
	res.Message = fmt.Sprintf("the API server accepts all %d objects (server-side dry run)", len(objs))
	if len(bad) > 0 {
		res.Message = fmt.Sprintf("the API server rejects %d of %d objects: %s", len(bad), len(objs), strings.Join(bad, "; "))
	}
	return res
}

// isRejection says whether err is the API server's answer about the object (invalid,
// forbidden, conflicting, unknown kind), not a failure to ask.
func isRejection(err error) bool {
	return apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err) ||
		apierrors.IsConflict(err) || apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) ||
		strings.Contains(err.Error(), "no matches for kind")
}

func (c *cluster) dryRunOne(ctx context.Context, u *unstructured.Unstructured) (string, error) {
	gvk := u.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return "create", err
	}
	var ri dynamic.ResourceInterface = c.dyn.Resource(m.Resource)
	if m.Scope.Name() == "namespace" {
		if u.GetNamespace() == "" {
			u.SetNamespace(c.ns)
		}
		ri = c.dyn.Resource(m.Resource).Namespace(u.GetNamespace())
	}
	_, err = ri.Create(ctx, u, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: "plimsoll-preflight"})
	if !apierrors.IsAlreadyExists(err) {
		return "create", err
	}
	b, err := u.MarshalJSON()
	if err != nil {
		return "apply", err
	}
	force := true
	_, err = ri.Patch(ctx, u.GetName(), types.ApplyPatchType, b, metav1.PatchOptions{
		DryRun: []string{metav1.DryRunAll}, FieldManager: "plimsoll-preflight", Force: &force})
	return "apply", err
}

// usableNode says whether pods can be scheduled on n: Ready, not cordoned, no NoSchedule or
// NoExecute taint; when not, why.
func usableNode(n *corev1.Node) (bool, string) {
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	switch {
	case !ready:
		return false, "NotReady"
	case n.Spec.Unschedulable:
		return false, "cordoned (unschedulable)"
	}
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute {
			return false, "tainted " + t.Key + ":" + string(t.Effect)
		}
	}
	return true, "Ready, schedulable"
}

// nodes checks that the nodes are Ready and schedulable: none usable fails, some not usable warns.
func (c *cluster) nodes(ctx context.Context) ([]corev1.Node, map[string]bool, check.Result, error) {
	list, err := c.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, check.Result{}, fmt.Errorf("list nodes: %w", err)
	}
	res := check.Result{Check: CheckNodes}
	tab := check.Table{Title: "nodes", Columns: []string{"node", "state"}}
	usable := map[string]bool{}
	var bad []string
	for i := range list.Items {
		n := &list.Items[i]
		ok, why := usableNode(n)
		usable[n.Name] = ok
		if !ok {
			bad = append(bad, n.Name+" "+why)
		}
		tab.Rows = append(tab.Rows, []string{n.Name, why})
	}
	good := len(list.Items) - len(bad)
	res.Tables, res.Measured = []check.Table{tab}, fmt.Sprintf("%d of %d nodes Ready and schedulable", good, len(list.Items))
	switch {
	case good == 0:
		res.Status, res.Message = check.StatusFail, "no node is Ready and schedulable: "+strings.Join(bad, "; ")
		if len(list.Items) == 0 {
			res.Message = "the cluster has no nodes"
		}
	case len(bad) > 0:
		res.Status, res.Message = check.StatusWarn, fmt.Sprintf("%d nodes cannot take pods: %s", len(bad), strings.Join(bad, "; "))
	default:
		res.Status, res.Message = check.StatusPass, fmt.Sprintf("all %d nodes are Ready and schedulable", good)
	}
	return list.Items, usable, res, nil
}

// deployments returns the Deployments among the objects, decoded.
func deployments(objs []*unstructured.Unstructured) ([]*appsv1.Deployment, error) {
	var out []*appsv1.Deployment
	for _, u := range objs {
		if u.GetKind() != "Deployment" || !strings.HasPrefix(u.GetAPIVersion(), "apps/") {
			continue
		}
		d := new(appsv1.Deployment)
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, d); err != nil {
			return nil, fmt.Errorf("deployment/%s: %w", u.GetName(), err)
		}
		out = append(out, d)
	}
	return out, nil
}

// currentPods checks that the pods of the Deployments about to be replaced are Running and
// Ready: a rollout started over failing pods hides whether the new image is at fault.
func (c *cluster) currentPods(ctx context.Context, objs []*unstructured.Unstructured) (check.Result, error) {
	res := check.Result{Check: CheckPods, Status: check.StatusPass}
	deps, err := deployments(objs)
	if err != nil {
		res.Status, res.Message = check.StatusError, err.Error()
		return res, nil
	}
	tab := check.Table{Title: "current pods", Columns: []string{"deployment", "pod", "phase", "ready"}}
	var notes, bad []string
	for _, d := range deps {
		ns := d.Namespace
		if ns == "" {
			ns = c.ns
		}
		cur, err := c.client.AppsV1().Deployments(ns).Get(ctx, d.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			notes = append(notes, "deployment/"+d.Name+" is not deployed yet")
			continue
		}
		if err != nil {
			return res, fmt.Errorf("get deployment %s/%s: %w", ns, d.Name, err)
		}
		sel, err := metav1.LabelSelectorAsSelector(cur.Spec.Selector)
		if err != nil {
			return res, fmt.Errorf("deployment %s/%s selector: %w", ns, d.Name, err)
		}
		pods, err := c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return res, fmt.Errorf("list pods of deployment %s/%s: %w", ns, d.Name, err)
		}
		running := 0
		for _, p := range pods.Items {
			ready := podReady(&p)
			tab.Rows = append(tab.Rows, []string{d.Name, p.Name, string(p.Status.Phase), strconv.FormatBool(ready)})
			if p.Status.Phase == corev1.PodRunning && ready {
				running++
			} else {
				bad = append(bad, fmt.Sprintf("%s is %s (ready %v)", p.Name, p.Status.Phase, ready))
			}
		}
		notes = append(notes, fmt.Sprintf("deployment/%s: %d of %d pods Running and Ready", d.Name, running, len(pods.Items)))
	}
	res.Tables = []check.Table{tab}
	switch {
	case len(deps) == 0:
		res.Message = "no Deployment among the objects"
	case len(bad) > 0:
		res.Status = check.StatusWarn
		res.Message = strings.Join(notes, "; ") + ": " + strings.Join(bad, "; ")
	default:
		res.Message = strings.Join(notes, "; ")
	}
	return res, nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podRequests is what the scheduler reserves for one pod: the sum of its containers'
// requests, or its largest init container's when bigger, plus its overhead.
func podRequests(spec *corev1.PodSpec) (cpu, mem resource.Quantity) {
	for _, ct := range spec.Containers {
		cpu.Add(ct.Resources.Requests[corev1.ResourceCPU])
		mem.Add(ct.Resources.Requests[corev1.ResourceMemory])
	}
	for _, ct := range spec.InitContainers {
		if q := ct.Resources.Requests[corev1.ResourceCPU]; q.Cmp(cpu) > 0 {
			cpu = q.DeepCopy()
		}
		if q := ct.Resources.Requests[corev1.ResourceMemory]; q.Cmp(mem) > 0 {
			mem = q.DeepCopy()
		}
	}
	cpu.Add(spec.Overhead[corev1.ResourceCPU])
	mem.Add(spec.Overhead[corev1.ResourceMemory])
	return cpu, mem
}

// capacity checks that the allocatable CPU and memory of the usable nodes, minus the requests
// of the pods already on them, covers the requests of the new replicas (each Deployment's
// replicas × its pod's requests: the new ReplicaSet's pods while the old ones still run).
func (c *cluster) capacity(ctx context.Context, objs []*unstructured.Unstructured, nodes []corev1.Node, usable map[string]bool) (check.Result, error) {
	res := check.Result{Check: CheckCapacity, Status: check.StatusPass}
	deps, err := deployments(objs)
	if err != nil {
		res.Status, res.Message = check.StatusError, err.Error()
		return res, nil
	}
	var allocCPU, allocMem, usedCPU, usedMem, needCPU, needMem resource.Quantity
	for _, n := range nodes {
		if usable[n.Name] {
			allocCPU.Add(n.Status.Allocatable[corev1.ResourceCPU])
			allocMem.Add(n.Status.Allocatable[corev1.ResourceMemory])
		}
	}
	pods, err := c.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return res, fmt.Errorf("list pods: %w", err)
	}
	for _, p := range pods.Items {
		if !usable[p.Spec.NodeName] || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		cpu, mem := podRequests(&p.Spec)
		usedCPU.Add(cpu)
		usedMem.Add(mem)
	}
	tab := check.Table{Title: "requests of the new replicas", Columns: []string{"deployment", "replicas", "cpu", "memory"}}
	for _, d := range deps {
		n := int64(1)
		if d.Spec.Replicas != nil {
			n = int64(*d.Spec.Replicas)
		}
		cpu, mem := podRequests(&d.Spec.Template.Spec)
		tab.Rows = append(tab.Rows, []string{d.Name, strconv.FormatInt(n, 10), cpu.String(), mem.String()})
		for range n {
			needCPU.Add(cpu)
			needMem.Add(mem)
		}
	}
	freeCPU, freeMem := allocCPU.DeepCopy(), allocMem.DeepCopy()
	freeCPU.Sub(usedCPU)
	freeMem.Sub(usedMem)
	res.Tables = []check.Table{tab}
	res.Measured = fmt.Sprintf("needs cpu %s, memory %s", needCPU.String(), needMem.String())
	res.Baseline = fmt.Sprintf("free cpu %s of %s, memory %s of %s", freeCPU.String(), allocCPU.String(), freeMem.String(), allocMem.String())
	var short []string
	if needCPU.Cmp(freeCPU) > 0 {
		short = append(short, fmt.Sprintf("cpu: the new replicas request %s, %s is free", needCPU.String(), freeCPU.String()))
	}
	if needMem.Cmp(freeMem) > 0 {
		short = append(short, fmt.Sprintf("memory: the new replicas request %s, %s is free", needMem.String(), freeMem.String()))
	}
	if len(short) > 0 {
		res.Status, res.Message = check.StatusFail, "not enough room on the Ready nodes: "+strings.Join(short, "; ")
		return res, nil
	}
	res.Message = fmt.Sprintf("room for the new replicas: they request cpu %s and memory %s; free on Ready nodes: cpu %s, memory %s",
		needCPU.String(), needMem.String(), freeCPU.String(), freeMem.String())
	return res, nil
}
