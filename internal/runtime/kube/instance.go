package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"

	"github.com/plimsoll/plimsoll/internal/runtime"
)

// Instance is one pod started by Runtime.
type Instance struct {
	r    *Runtime
	name string
	uid  string
	spec runtime.Spec

	mu       sync.Mutex
	node     string
	last     *corev1.Pod // the pod as last seen
	stopped  bool
	forwards map[int]*forward
}

var _ runtime.Instance = (*Instance)(nil)

// forward is a port-forward to the pod, open until Stop.
type forward struct {
	addr string
	stop chan struct{}
}

// ID is the pod's namespace/name.
func (i *Instance) ID() string { return i.r.o.namespace + "/" + i.name }

// Node is the name of the node the pod runs on.
func (i *Instance) Node() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.node
}

// waitStarted watches the pod until its container runs or has run, or cannot start.
func (i *Instance) waitStarted(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, i.r.o.startTimeout)
	defer cancel()
	pods := i.r.client.CoreV1().Pods(i.r.o.namespace)
	sel := fields.OneTermEqualSelector("metadata.name", i.name).String()
	var last string
	for {
		list, err := pods.List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			return waitErr(ctx, err, last)
		}
		if len(list.Items) == 0 {
			return errPodGone
		}
		done, why, err := i.started(&list.Items[0])
		if done || err != nil {
			return err
		}
		last = why
		w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: sel, ResourceVersion: list.ResourceVersion})
		if err != nil {
			return waitErr(ctx, err, last)
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Deleted {
				w.Stop()
				return errPodGone
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue // a watch error: list again
			}
			done, why, err := i.started(p)
			if done || err != nil {
				w.Stop()
				return err
			}
			last = why
		}
		w.Stop()
		if ctx.Err() != nil {
			return waitErr(ctx, ctx.Err(), last)
		}
	}
}

func waitErr(ctx context.Context, err error, last string) error {
	if ctx.Err() != nil && last != "" {
		return fmt.Errorf("the pod did not start (%s): %w", last, err)
	}
	return err
}

// started records p and says whether its container has started, or why not yet, or that it
// cannot start.
func (i *Instance) started(p *corev1.Pod) (bool, string, error) {
	i.mu.Lock()
	i.last, i.node = p, p.Spec.NodeName
	i.mu.Unlock()
	st, ok := containerStatus(p)
	if !ok {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				return false, fmt.Sprintf("not scheduled: %s", c.Message), nil
			}
		}
		return false, "phase " + string(p.Status.Phase), nil
	}
	if err := startErr(st); err != nil {
		return false, "", err
	}
	if st.State.Running != nil || st.State.Terminated != nil {
		return true, "", nil
	}
	if w := st.State.Waiting; w != nil {
		return false, w.Reason + " " + w.Message, nil
	}
	return false, "waiting", nil
}

func containerStatus(p *corev1.Pod) (corev1.ContainerStatus, bool) {
	for _, s := range p.Status.ContainerStatuses {
		if s.Name == containerName {
			return s, true
		}
	}
	return corev1.ContainerStatus{}, false
}

// refresh reads the pod; errPodGone-wrapped ErrRemoved once it is gone.
func (i *Instance) refresh(ctx context.Context) (*corev1.Pod, error) {
	i.mu.Lock()
	stopped := i.stopped
	i.mu.Unlock()
	if stopped {
		return nil, runtime.ErrRemoved
	}
	p, err := i.r.client.CoreV1().Pods(i.r.o.namespace).Get(ctx, i.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%w: pod %s", runtime.ErrRemoved, i.ID())
	}
	if err != nil {
		return nil, err
	}
	i.mu.Lock()
	i.last = p
	i.mu.Unlock()
	return p, nil
}

// running returns the pod when its container runs, else ErrNotRunning or ErrRemoved.
func (i *Instance) running(ctx context.Context) (*corev1.Pod, error) {
	p, err := i.refresh(ctx)
	if err != nil {
		return nil, err
	}
	if st, ok := containerStatus(p); !ok || st.State.Running == nil {
		return nil, fmt.Errorf("%w: pod %s", runtime.ErrNotRunning, i.ID())
	}
	return p, nil
}

// Endpoint returns 127.0.0.1:port for a host-network pod on this machine's node, else the local
// end of a port-forward to the pod (opened once per port, closed by Stop): plimsoll dials
// loopback only, never a pod or node IP.
func (i *Instance) Endpoint(ctx context.Context, port int) (string, error) {
	if !containsPort(i.spec.Ports, port) {
		return "", fmt.Errorf("port %d is not one of the spec's ports %v", port, i.spec.Ports)
	}
	p, err := i.running(ctx)
	if err != nil {
		return "", err
	}
	if i.spec.HostNetwork && i.r.node(ctx, p.Spec.NodeName).local {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if f, ok := i.forwards[port]; ok {
		return f.addr, nil
	}
	f, err := i.portForward(port)
	if err != nil {
		return "", fmt.Errorf("port-forward to %s:%d: %w", i.ID(), port, err)
	}
	if i.forwards == nil {
		i.forwards = map[int]*forward{}
	}
	i.forwards[port] = f
	return f.addr, nil
}

func containsPort(ports []int, p int) bool {
	for _, q := range ports {
		if q == p {
			return true
		}
	}
	return false
}

func (i *Instance) portForward(port int) (*forward, error) {
	tr, upgrader, err := spdy.RoundTripperFor(i.r.cfg)
	if err != nil {
		return nil, err
	}
	u := i.r.client.CoreV1().RESTClient().Post().Resource("pods").Namespace(i.r.o.namespace).Name(i.name).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: tr}, http.MethodPost, u)
	stop, ready := make(chan struct{}), make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		return nil, err
	}
	errc := make(chan error, 1)
	go func() { errc <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-errc:
		return nil, err
	case <-time.After(30 * time.Second):
		close(stop)
		return nil, errors.New("port-forward not ready after 30s")
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		close(stop)
		return nil, fmt.Errorf("port-forward ports: %v", err)
	}
	return &forward{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local))), stop: stop}, nil
}

// Exec runs cmd in the container through the API server.
func (i *Instance) Exec(ctx context.Context, cmd []string) (runtime.ExecResult, error) {
	if _, err := i.running(ctx); err != nil {
		return runtime.ExecResult{}, err
	}
	req := i.r.client.CoreV1().RESTClient().Post().Resource("pods").Namespace(i.r.o.namespace).Name(i.name).
		SubResource("exec").VersionedParams(&corev1.PodExecOptions{
		Container: containerName, Command: cmd, Stdout: true, Stderr: true,
	}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(i.r.cfg, http.MethodPost, req.URL())
	if err != nil {
		return runtime.ExecResult{}, err
	}
	var stdout, stderr bytes.Buffer
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	res := runtime.ExecResult{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var code exec.CodeExitError
	switch {
	case err == nil:
	case errors.As(err, &code):
		res.ExitCode = code.Code
	default:
		// A command that cannot be started fails the exec itself (as in docker exec, 126/127).
		if _, rerr := i.running(ctx); rerr != nil {
			return res, rerr
		}
		if isCannotRun(err) {
			res.ExitCode = 127
			res.Stderr = append(res.Stderr, err.Error()...)
			return res, nil
		}
		return res, fmt.Errorf("exec in %s: %w", i.ID(), err)
	}
	return res, nil
}

// isCannotRun reports an exec whose command could not be started (missing, not executable).
func isCannotRun(err error) bool {
	s := err.Error()
	for _, m := range []string{"executable file not found", "no such file or directory", "permission denied", "OCI runtime exec failed"} {
		if bytes.Contains([]byte(s), []byte(m)) {
			return true
		}
	}
	return false
}

// Logs copies the container's output (stdout and stderr, interleaved) to w.
func (i *Instance) Logs(ctx context.Context, w io.Writer) error {
	if _, err := i.refresh(ctx); err != nil {
		return err
	}
	rc, err := i.r.client.CoreV1().Pods(i.r.o.namespace).GetLogs(i.name, &corev1.PodLogOptions{Container: containerName}).Stream(ctx)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%w: pod %s", runtime.ErrRemoved, i.ID())
		}
		return fmt.Errorf("logs of %s: %w", i.ID(), err)
	}
	defer rc.Close()
	_, err = io.Copy(w, rc)
	return err
}

// State reads the container's state from the pod's status; after Stop, the last state seen.
func (i *Instance) State(ctx context.Context) (runtime.State, error) {
	i.mu.Lock()
	stopped, last := i.stopped, i.last
	i.mu.Unlock()
	if !stopped {
		p, err := i.refresh(ctx)
		if err != nil {
			return runtime.State{}, err
		}
		last = p
	}
	return stateOf(last), nil
}

func stateOf(p *corev1.Pod) runtime.State {
	var s runtime.State
	if p == nil {
		return s
	}
	st, ok := containerStatus(p)
	if !ok {
		return s
	}
	switch {
	case st.State.Running != nil:
		s.Running = true
		s.StartedAt = st.State.Running.StartedAt.Time
	case st.State.Terminated != nil:
		t := st.State.Terminated
		s.ExitCode = int(t.ExitCode)
		s.StartedAt, s.FinishedAt = t.StartedAt.Time, t.FinishedAt.Time
		s.OOMKilled = t.Reason == "OOMKilled"
		s.Signal = syscall.Signal(t.Signal)
		if s.Signal == 0 {
			s.Signal = runtime.SignalFromExitCode(s.ExitCode)
		}
	}
	return s
}

// Stats reads the container's CPU and memory from the kubelet's Summary API.
func (i *Instance) Stats(ctx context.Context) (runtime.Stats, error) {
	p, err := i.running(ctx)
	if err != nil {
		return runtime.Stats{}, err
	}
	raw, err := i.r.summary(ctx, p.Spec.NodeName)
	if err != nil {
		return runtime.Stats{}, fmt.Errorf("%w: kubelet Summary API of node %s: %v", runtime.ErrStatsUnavailable, p.Spec.NodeName, err)
	}
	var sum summary
	if err := json.Unmarshal(raw, &sum); err != nil {
		return runtime.Stats{}, fmt.Errorf("%w: kubelet Summary API: %v", runtime.ErrStatsUnavailable, err)
	}
	for _, ps := range sum.Pods {
		if ps.PodRef.UID != i.uid {
			continue
		}
		for _, c := range ps.Containers {
			if c.Name != containerName || c.Memory == nil || c.CPU == nil {
				continue
			}
			st := runtime.Stats{
				RSS:   int64(c.Memory.RSSBytes),
				Usage: int64(c.Memory.UsageBytes),
				Limit: i.spec.Memory,
				CPU:   time.Duration(c.CPU.UsageCoreNanoSeconds),
			}
			return st, nil
		}
	}
	return runtime.Stats{}, fmt.Errorf("%w: the kubelet of node %s reports no statistics of %s yet", runtime.ErrStatsUnavailable, p.Spec.NodeName, i.ID())
}

// summary is the part of the kubelet's Summary API (stats/v1alpha1) the runtime reads.
type summary struct {
	Pods []struct {
		PodRef struct {
			UID string `json:"uid"`
		} `json:"podRef"`
		Containers []struct {
			Name string `json:"name"`
			CPU  *struct {
				UsageCoreNanoSeconds uint64 `json:"usageCoreNanoSeconds"`
			} `json:"cpu"`
			Memory *struct {
				UsageBytes      uint64 `json:"usageBytes"`
				WorkingSetBytes uint64 `json:"workingSetBytes"`
				RSSBytes        uint64 `json:"rssBytes"`
			} `json:"memory"`
		} `json:"containers"`
	} `json:"pods"`
}

// summary reads node's /stats/summary: from the kubelet on 127.0.0.1 when the node is this
// machine (the API server refuses to proxy to a node whose address is loopback), else, or when
// that fails, through the API server's node proxy.
func (r *Runtime) summary(ctx context.Context, node string) ([]byte, error) {
	var direct error
	if n := r.node(ctx, node); n.local && n.kubeletPort > 0 {
		cfg := rest.CopyConfig(r.cfg)
		cfg.Host = "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(n.kubeletPort))
		cfg.TLSClientConfig.ServerName = node
		cfg.GroupVersion = &corev1.SchemeGroupVersion
		cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
		rc, err := rest.RESTClientFor(cfg)
		if err == nil {
			var raw []byte
			if raw, err = rc.Get().AbsPath("/stats/summary").DoRaw(ctx); err == nil {
				return raw, nil
			}
		}
		direct = fmt.Errorf("kubelet on 127.0.0.1:%d: %w", n.kubeletPort, err)
	}
	raw, err := r.client.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", node, "proxy", "stats", "summary").DoRaw(ctx)
	if err != nil && direct != nil {
		return nil, fmt.Errorf("%w; through the API server: %v", direct, err)
	}
	return raw, err
}

// nodeInfo is what the runtime knows of a node.
type nodeInfo struct {
	// local: the node is this machine (its hostname, or one of its addresses is one of this
	// machine's interface addresses).
	local bool
	// kubeletPort is the port the node's kubelet serves on (its daemon endpoint).
	kubeletPort int
}

// node looks the node up once. A node that cannot be read (the check's RBAC may not allow
// reading nodes) is taken as not local.
func (r *Runtime) node(ctx context.Context, name string) nodeInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n, ok := r.nodes[name]; ok {
		return n
	}
	var n nodeInfo
	node, err := r.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		r.o.log.Debug("node not readable: taken as remote", "node", name, "err", err)
		return n // not cached: the next call may read it
	}
	n.local = isLocal(node.Status.Addresses, r.host, localAddrs())
	n.kubeletPort = int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if r.nodes == nil {
		r.nodes = map[string]nodeInfo{}
	}
	r.nodes[name] = n
	return n
}

// isLocal reports whether a node with these addresses is this machine (hostname host, interface
// addresses ips). Only the node's records are compared: nothing is dialled.
func isLocal(addrs []corev1.NodeAddress, host string, ips []net.IP) bool {
	for _, a := range addrs {
		switch a.Type {
		case corev1.NodeHostName:
			if a.Address == "localhost" || (host != "" && a.Address == host) {
				return true
			}
		case corev1.NodeInternalIP, corev1.NodeExternalIP:
			ip := net.ParseIP(a.Address)
			for _, mine := range ips {
				if ip != nil && ip.Equal(mine) {
					return true
				}
			}
		}
	}
	return false
}

// localAddrs returns this machine's interface addresses.
func localAddrs() []net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var ips []net.IP
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			ips = append(ips, n.IP)
		}
	}
	return ips
}

// PID is not available on Kubernetes: the API does not give a container's host PID.
func (i *Instance) PID(ctx context.Context) (int, error) {
	if _, err := i.running(ctx); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%w: Kubernetes does not give a container's host PID", runtime.ErrStatsUnavailable)
}

// Stop deletes the pod (SIGTERM, SIGKILL after the grace period), waits until it is gone and
// keeps its last state. Idempotent.
func (i *Instance) Stop(ctx context.Context) error {
	i.mu.Lock()
	if i.stopped {
		i.mu.Unlock()
		return nil
	}
	for _, f := range i.forwards {
		close(f.stop)
	}
	i.forwards = nil
	i.mu.Unlock()

	grace := int64(i.r.o.grace.Seconds())
	if ctx.Err() != nil {
		grace = 0
		ctx = context.WithoutCancel(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(grace)*time.Second+cleanupTimeout)
	defer cancel()
	pods := i.r.client.CoreV1().Pods(i.r.o.namespace)
	sel := fields.OneTermEqualSelector("metadata.name", i.name).String()
	list, err := pods.List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return fmt.Errorf("stop %s: %w", i.ID(), err)
	}
	if len(list.Items) == 0 {
		i.markStopped(nil)
		return nil
	}
	last := &list.Items[0]
	w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: sel, ResourceVersion: list.ResourceVersion})
	if err != nil {
		return fmt.Errorf("stop %s: %w", i.ID(), err)
	}
	defer w.Stop()
	err = pods.Delete(ctx, i.name, metav1.DeleteOptions{GracePeriodSeconds: &grace,
		Preconditions: &metav1.Preconditions{UID: &last.UID}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("stop %s: delete pod: %w", i.ID(), err)
	}
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				if _, err := pods.Get(ctx, i.name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
					i.markStopped(last)
					return nil
				}
				if ctx.Err() != nil {
					return fmt.Errorf("stop %s: the pod was not gone in time: %w", i.ID(), ctx.Err())
				}
				w.Stop()
				if w, err = pods.Watch(ctx, metav1.ListOptions{FieldSelector: sel}); err != nil {
					return fmt.Errorf("stop %s: %w", i.ID(), err)
				}
				continue
			}
			if p, ok := ev.Object.(*corev1.Pod); ok {
				last = p
			}
			if ev.Type == watch.Deleted {
				i.markStopped(last)
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("stop %s: the pod was not gone in time: %w", i.ID(), ctx.Err())
		}
	}
}

// markStopped records that the pod is gone, with last as its final state. A pod removed
// before its kubelet reported the container's end (a zero grace period, a lost node) is
// recorded as finished now, its exit code unknown (0).
func (i *Instance) markStopped(last *corev1.Pod) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.stopped = true
	if last != nil {
		if _, ok := containerStatus(last); ok {
			i.last = last
		}
	}
	if i.last == nil {
		return
	}
	st, ok := containerStatus(i.last)
	if !ok || st.State.Running == nil {
		return
	}
	p := i.last.DeepCopy()
	for k := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[k].Name == containerName {
			p.Status.ContainerStatuses[k].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				StartedAt: st.State.Running.StartedAt, FinishedAt: metav1.Now(), Reason: "Deleted"}}
		}
	}
	i.last = p
}
