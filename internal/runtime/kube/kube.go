// Package kube implements runtime.Runtime with Kubernetes pods: one Pod per Start, in one
// namespace, through the API server (client-go), so a check runs wherever a kubeconfig or an
// in-cluster service account reaches a cluster, without a Docker socket.
//
// Every pod is named plimsoll-<run>-<role>-<random>, labelled like Docker's containers
// (plimsoll.run, plimsoll.role) and annotated with the starting process's PID, host and start
// time. It has restartPolicy Never, an activeDeadlineSeconds safety net (a pod a crashed run
// leaves behind ends by itself), requests equal to limits (OLD and NEW of a run get the same
// QoS class), and a required pod affinity on its run label so that every pod of one run lands
// on the same node. Images are pulled by the node (IfNotPresent): give registry references,
// by digest, that the node can pull.
//
// What differs from Docker (see README "Checks on Kubernetes"):
//   - Health: the image's HEALTHCHECK is Docker's; Kubernetes ignores it, State.Health is
//     always HealthNone.
//   - PID: a pod's host PID is not in the API; PID returns runtime.ErrStatsUnavailable.
//   - Stats come from the kubelet's Summary API (working set, RSS, CPU time); Peak is 0.
//   - CPUShares sets the CPU request (shares/1024 CPUs), the kubelet's way to set cpu.shares.
//   - Spec.User must be numeric ("uid" or "uid:gid"): Kubernetes cannot run as a user name.
package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/plimsoll/plimsoll/internal/runtime"
)

// Defaults of the options.
const (
	DefaultStopGrace      = 5 * time.Second
	DefaultActiveDeadline = 6 * time.Hour
	DefaultStartTimeout   = 5 * time.Minute
)

// cleanupTimeout bounds the API calls of a Stop made with a cancelled context.
const cleanupTimeout = 30 * time.Second

// containerName is the name of the one container of every pod.
const containerName = "app"

// Annotations the runtime puts on its pods (labels on Docker; values that are not label values).
const (
	AnnotationPID     = runtime.LabelPID
	AnnotationHost    = runtime.LabelHost
	AnnotationStarted = runtime.LabelStarted
)

// Runtime starts pods in one namespace. It is safe for concurrent use.
type Runtime struct {
	cfg    *rest.Config
	client kubernetes.Interface
	o      options
	pid    int
	host   string

	mu    sync.Mutex
	nodes map[string]nodeInfo // by node name, looked up once
}

var _ runtime.Runtime = (*Runtime)(nil)

// Option configures New.
type Option func(*options)

type options struct {
	namespace    string
	log          *slog.Logger
	grace        time.Duration
	deadline     time.Duration
	startTimeout time.Duration
	nodeSelector map[string]string
}

// WithNamespace starts pods in ns (default "default").
func WithNamespace(ns string) Option { return func(o *options) { o.namespace = ns } }

// WithLogger sends diagnostics to l (default: discarded).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithStopGrace sets the pods' termination grace period: how long Stop waits after SIGTERM
// before the kubelet kills the container (default DefaultStopGrace).
func WithStopGrace(d time.Duration) Option { return func(o *options) { o.grace = d } }

// WithActiveDeadline sets the pods' activeDeadlineSeconds: the cluster kills a pod that runs
// longer, whatever became of the plimsoll process (default DefaultActiveDeadline).
func WithActiveDeadline(d time.Duration) Option { return func(o *options) { o.deadline = d } }

// WithStartTimeout bounds how long Start waits for the container to start (scheduling and
// image pull included; default DefaultStartTimeout).
func WithStartTimeout(d time.Duration) Option { return func(o *options) { o.startTimeout = d } }

// WithNodeSelector schedules the pods onto nodes with these labels only.
func WithNodeSelector(sel map[string]string) Option { return func(o *options) { o.nodeSelector = sel } }

// New returns a runtime that creates pods with cfg's credentials. It checks that the
// namespace exists (one API call).
func New(ctx context.Context, cfg *rest.Config, opts ...Option) (*Runtime, error) {
	o := options{namespace: "default", grace: DefaultStopGrace, deadline: DefaultActiveDeadline, startTimeout: DefaultStartTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, o.namespace, metav1.GetOptions{}); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return nil, fmt.Errorf("namespace %q does not exist", o.namespace)
		case apierrors.IsForbidden(err):
			// May not read namespaces: fine, pod creation will tell.
		default:
			return nil, fmt.Errorf("%w: %s: %v", runtime.ErrNoEngine, cfg.Host, err)
		}
	}
	host, _ := os.Hostname()
	return &Runtime{cfg: cfg, client: cs, o: o, pid: os.Getpid(), host: host}, nil
}

// Start creates the pod of spec and waits until its container runs (or has run).
func (r *Runtime) Start(ctx context.Context, spec runtime.Spec) (runtime.Instance, error) {
	pod, err := r.pod(spec)
	if err != nil {
		return nil, err
	}
	created, err := r.client.CoreV1().Pods(r.o.namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if apierrors.IsInvalid(err) {
			return nil, fmt.Errorf("start %s: %w: %v", spec.Role, runtime.ErrInvalidSpec, err)
		}
		return nil, fmt.Errorf("start %s: create pod in namespace %s: %w", spec.Role, r.o.namespace, err)
	}
	inst := &Instance{r: r, name: created.Name, uid: string(created.UID), spec: spec}
	if err := inst.waitStarted(ctx); err != nil {
		_ = inst.Stop(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("start %s (%s): %w", spec.Role, spec.Image, err)
	}
	r.o.log.Debug("pod started", "pod", inst.name, "namespace", r.o.namespace, "node", inst.Node())
	return inst, nil
}

// pod translates spec into a Pod.
func (r *Runtime) pod(spec runtime.Spec) (*corev1.Pod, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	var problems []string
	labels := map[string]string{runtime.LabelRun: spec.RunID, runtime.LabelRole: spec.Role}
	for k, v := range spec.Labels {
		labels[k] = v
	}
	for k, v := range labels {
		for _, e := range validation.IsQualifiedName(k) {
			problems = append(problems, fmt.Sprintf("label key %q: %s", k, e))
		}
		for _, e := range validation.IsValidLabelValue(v) {
			problems = append(problems, fmt.Sprintf("label %s=%q: %s", k, v, e))
		}
	}
	c := corev1.Container{
		Name:            containerName,
		Image:           spec.Image,
		Command:         spec.Entrypoint,
		Args:            spec.Cmd,
		ImagePullPolicy: corev1.PullIfNotPresent,
		SecurityContext: &corev1.SecurityContext{},
	}
	for _, e := range spec.Env {
		k, v, _ := strings.Cut(e, "=")
		c.Env = append(c.Env, corev1.EnvVar{Name: k, Value: v})
	}
	if spec.User != "" {
		uid, gid, err := numericUser(spec.User)
		if err != nil {
			problems = append(problems, err.Error())
		}
		c.SecurityContext.RunAsUser = uid
		c.SecurityContext.RunAsGroup = gid
	}
	if spec.ReadOnlyRoot {
		c.SecurityContext.ReadOnlyRootFilesystem = ptr(true)
	}
	for _, p := range spec.Ports {
		cp := corev1.ContainerPort{ContainerPort: int32(p), Protocol: corev1.ProtocolTCP}
		if spec.HostNetwork {
			cp.HostPort = cp.ContainerPort // the scheduler keeps two pods off one port
		}
		c.Ports = append(c.Ports, cp)
	}
	res := corev1.ResourceList{}
	if spec.Memory > 0 {
		res[corev1.ResourceMemory] = *resource.NewQuantity(spec.Memory, resource.BinarySI)
	}
	if spec.CPUs > 0 {
		res[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(spec.CPUs*1000+0.5), resource.DecimalSI)
	}
	c.Resources = corev1.ResourceRequirements{Limits: res, Requests: res.DeepCopy()}
	if spec.CPUShares > 0 {
		// The kubelet sets cpu.shares from the request: 1024 per CPU.
		req := *resource.NewMilliQuantity(spec.CPUShares*1000/1024, resource.DecimalSI)
		if lim, ok := res[corev1.ResourceCPU]; ok && req.Cmp(lim) > 0 {
			req = lim
		}
		c.Resources.Requests[corev1.ResourceCPU] = req
	}
	var volumes []corev1.Volume
	i := 0
	for path, opts := range spec.Tmpfs {
		v := corev1.Volume{Name: "tmpfs-" + strconv.Itoa(i),
			VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}
		if size, ok := tmpfsSize(opts); ok {
			q, err := resource.ParseQuantity(size)
			if err != nil {
				problems = append(problems, fmt.Sprintf("tmpfs %s size %q: %v", path, size, err))
			} else {
				v.EmptyDir.SizeLimit = &q
			}
		}
		volumes = append(volumes, v)
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: v.Name, MountPath: path})
		i++
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", runtime.ErrInvalidSpec, strings.Join(problems, "; "))
	}
	grace := int64(r.o.grace.Seconds())
	deadline := int64(r.o.deadline.Seconds())
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:   podName(spec.RunID, spec.Role),
			Labels: labels,
			Annotations: map[string]string{
				AnnotationPID:     strconv.Itoa(r.pid),
				AnnotationHost:    r.host,
				AnnotationStarted: time.Now().UTC().Format(time.RFC3339),
			},
		},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{c},
			Volumes:                       volumes,
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         &deadline,
			TerminationGracePeriodSeconds: &grace,
			AutomountServiceAccountToken:  ptr(false),
			EnableServiceLinks:            ptr(false),
			HostNetwork:                   spec.HostNetwork,
			NodeSelector:                  r.o.nodeSelector,
			Affinity: &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{runtime.LabelRun: spec.RunID}},
					TopologyKey:   corev1.LabelHostname,
				}},
			}},
		},
	}
	if spec.HostNetwork {
		pod.Spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	}
	return pod, nil
}

// numericUser parses "uid" or "uid:gid".
func numericUser(u string) (uid, gid *int64, err error) {
	us, gs, hasGroup := strings.Cut(u, ":")
	n, err := strconv.ParseInt(us, 10, 64)
	if err != nil || n < 0 {
		return nil, nil, fmt.Errorf("user %q: Kubernetes runs numeric users only (uid or uid:gid)", u)
	}
	uid = &n
	if hasGroup {
		g, err := strconv.ParseInt(gs, 10, 64)
		if err != nil || g < 0 {
			return nil, nil, fmt.Errorf("user %q: Kubernetes runs numeric groups only (uid:gid)", u)
		}
		gid = &g
	}
	return uid, gid, nil
}

// tmpfsSize returns the size= of tmpfs mount options ("size=16m" → "16Mi").
func tmpfsSize(opts string) (string, bool) {
	for _, o := range strings.Split(opts, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(o), "size="); ok {
			v = strings.TrimSpace(v)
			if n := len(v); n > 0 && strings.ContainsRune("kmgKMG", rune(v[n-1])) {
				v = v[:n-1] + strings.ToUpper(v[n-1:]) + "i"
			}
			return v, true
		}
	}
	return "", false
}

// podName returns a DNS-1123 name plimsoll-<run>-<role>-<random>, at most 63 characters.
func podName(run, role string) string {
	clean := func(s string, max int) string {
		s = strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
				return r
			case r >= 'A' && r <= 'Z':
				return r + 'a' - 'A'
			}
			return '-'
		}, s)
		if len(s) > max {
			s = s[:max]
		}
		return strings.Trim(s, "-")
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return "plimsoll-" + clean(run, 24) + "-" + clean(role, 16) + "-" + hex.EncodeToString(b)
}

func ptr[T any](v T) *T { return &v }

// startErr classifies a container that cannot start: the image cannot be pulled, or the
// process cannot be started.
func startErr(st corev1.ContainerStatus) error {
	if w := st.State.Waiting; w != nil {
		switch w.Reason {
		case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable":
			return fmt.Errorf("%w: %s: %s", runtime.ErrImageNotFound, w.Reason, w.Message)
		case "CreateContainerError", "CreateContainerConfigError", "RunContainerError", "StartError":
			return fmt.Errorf("%w: %s: %s", runtime.ErrStartFailed, w.Reason, w.Message)
		}
	}
	if t := st.State.Terminated; t != nil && (t.Reason == "StartError" || t.Reason == "ContainerCannotRun") {
		return fmt.Errorf("%w: %s: %s", runtime.ErrStartFailed, t.Reason, t.Message)
	}
	return nil
}

// errPodGone reports a pod deleted under the runtime.
var errPodGone = errors.New("pod deleted")
