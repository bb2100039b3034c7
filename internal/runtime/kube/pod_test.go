package kube

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/plimsoll/plimsoll/internal/runtime"
)

func TestPod(t *testing.T) {
	rt := &Runtime{o: options{namespace: "ns", grace: DefaultStopGrace, deadline: DefaultActiveDeadline,
		nodeSelector: map[string]string{"k": "v"}}, pid: 42, host: "ci-1"}
	p, err := rt.pod(runtime.Spec{
		Image: "127.0.0.1:5000/app@sha256:" + strings.Repeat("a", 64), RunID: "Run_1.x", Role: "old",
		Entrypoint: []string{"/app"}, Cmd: []string{"serve"}, Env: []string{"A=b=c", "EMPTY="},
		User: "1234:2345", Ports: []int{8080}, HostNetwork: true, ReadOnlyRoot: true,
		Tmpfs:  map[string]string{"/tmp": "size=16m,mode=1777"},
		Memory: 128 << 20, CPUs: 0.5, CPUShares: 256,
		Labels: map[string]string{"team": "a"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if errs := validation.IsDNS1123Subdomain(p.Name); len(errs) > 0 || !strings.HasPrefix(p.Name, "plimsoll-run-1-x-old-") {
		t.Errorf("name %q: %v", p.Name, errs)
	}
	for k, v := range map[string]string{runtime.LabelRun: "Run_1.x", runtime.LabelRole: "old", "team": "a"} {
		if p.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, p.Labels[k], v)
		}
	}
	if p.Annotations[AnnotationPID] != "42" || p.Annotations[AnnotationHost] != "ci-1" || p.Annotations[AnnotationStarted] == "" {
		t.Errorf("annotations %v", p.Annotations)
	}
	s := p.Spec
	if s.RestartPolicy != corev1.RestartPolicyNever || *s.ActiveDeadlineSeconds != int64(DefaultActiveDeadline.Seconds()) ||
		*s.TerminationGracePeriodSeconds != 5 || !s.HostNetwork || s.DNSPolicy != corev1.DNSClusterFirstWithHostNet ||
		*s.AutomountServiceAccountToken || s.NodeSelector["k"] != "v" {
		t.Errorf("pod spec %+v", s)
	}
	aff := s.Affinity.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	if len(aff) != 1 || aff[0].LabelSelector.MatchLabels[runtime.LabelRun] != "Run_1.x" || aff[0].TopologyKey != corev1.LabelHostname {
		t.Errorf("affinity %+v: want every pod of the run on one node", aff)
	}
	c := s.Containers[0]
	if c.Image != "127.0.0.1:5000/app@sha256:"+strings.Repeat("a", 64) || c.Command[0] != "/app" || c.Args[0] != "serve" ||
		c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("container %+v", c)
	}
	if len(c.Env) != 2 || c.Env[0] != (corev1.EnvVar{Name: "A", Value: "b=c"}) || c.Env[1] != (corev1.EnvVar{Name: "EMPTY"}) {
		t.Errorf("env %+v", c.Env)
	}
	if *c.SecurityContext.RunAsUser != 1234 || *c.SecurityContext.RunAsGroup != 2345 || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("security context %+v", c.SecurityContext)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 8080 || c.Ports[0].HostPort != 8080 {
		t.Errorf("ports %+v: a host-network port is also a host port", c.Ports)
	}
	lim, req := c.Resources.Limits, c.Resources.Requests
	if lim.Memory().Value() != 128<<20 || req.Memory().Value() != 128<<20 || lim.Cpu().MilliValue() != 500 || req.Cpu().MilliValue() != 250 {
		t.Errorf("resources %+v: want memory request = limit, CPU limit 0.5 and request 256/1024", c.Resources)
	}
	if len(s.Volumes) != 1 || s.Volumes[0].EmptyDir.Medium != corev1.StorageMediumMemory ||
		s.Volumes[0].EmptyDir.SizeLimit.Cmp(resource.MustParse("16Mi")) != 0 ||
		c.VolumeMounts[0].MountPath != "/tmp" || c.VolumeMounts[0].Name != s.Volumes[0].Name {
		t.Errorf("tmpfs as %+v mounted %+v", s.Volumes, c.VolumeMounts)
	}
}

func TestPodGuaranteed(t *testing.T) {
	rt := &Runtime{o: options{grace: DefaultStopGrace, deadline: DefaultActiveDeadline}}
	p, err := rt.pod(runtime.Spec{Image: "i", RunID: "r", Role: "new", Memory: 64 << 20, CPUs: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := p.Spec.Containers[0].Resources
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		l, q := r.Limits[res], r.Requests[res]
		if l.Cmp(q) != 0 || l.IsZero() {
			t.Errorf("%s: limit %s request %s, want equal (Guaranteed QoS)", res, l.String(), q.String())
		}
	}
}

func TestPodInvalid(t *testing.T) {
	rt := &Runtime{o: options{grace: DefaultStopGrace, deadline: DefaultActiveDeadline}}
	for _, tc := range []struct {
		name string
		spec runtime.Spec
		want string
	}{
		{"user name", runtime.Spec{User: "nobody"}, "numeric users only"},
		{"group name", runtime.Spec{User: "1:staff"}, "numeric groups only"},
		{"label value", runtime.Spec{Labels: map[string]string{"a": "has space"}}, `label a="has space"`},
		{"reserved label", runtime.Spec{Labels: map[string]string{runtime.LabelRun: "x"}}, "reserved"},
		{"tmpfs size", runtime.Spec{Tmpfs: map[string]string{"/tmp": "size=lots"}}, "tmpfs /tmp size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Image, tc.spec.RunID, tc.spec.Role = "i", "r", "x"
			_, err := rt.pod(tc.spec)
			if !errors.Is(err, runtime.ErrInvalidSpec) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want ErrInvalidSpec mentioning %q", err, tc.want)
			}
		})
	}
}

func TestTmpfsSize(t *testing.T) {
	for in, want := range map[string]string{"size=16m": "16Mi", "mode=1777,size=1g": "1Gi", "size=4096": "4096", "size=2k": "2Ki", "mode=1777": ""} {
		if got, _ := tmpfsSize(in); got != want {
			t.Errorf("tmpfsSize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStartErr(t *testing.T) {
	waiting := func(reason string) corev1.ContainerStatus {
		return corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "m"}}}
	}
	for _, tc := range []struct {
		st   corev1.ContainerStatus
		want error
	}{
		{waiting("ErrImagePull"), runtime.ErrImageNotFound},
		{waiting("ImagePullBackOff"), runtime.ErrImageNotFound},
		{waiting("InvalidImageName"), runtime.ErrImageNotFound},
		{waiting("RunContainerError"), runtime.ErrStartFailed},
		{waiting("CreateContainerError"), runtime.ErrStartFailed},
		{corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "StartError", ExitCode: 128}}}, runtime.ErrStartFailed},
		{waiting("ContainerCreating"), nil},
		{corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 3}}}, nil},
	} {
		if err := startErr(tc.st); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("startErr(%+v) = %v, want %v", tc.st.State, err, tc.want)
		}
	}
}

func TestStateOf(t *testing.T) {
	term := func(code int32, sig int32, reason string) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: containerName,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Signal: sig, Reason: reason,
				StartedAt: metav1.Unix(10, 0), FinishedAt: metav1.Unix(20, 0)}}}}}}
	}
	if s := stateOf(term(137, 0, "OOMKilled")); !s.OOMKilled || s.ExitCode != 137 || s.Signal != syscall.SIGKILL || s.Running || s.FinishedAt.Unix() != 20 {
		t.Errorf("OOM-killed: %+v", s)
	}
	if s := stateOf(term(3, 0, "Error")); s.OOMKilled || s.ExitCode != 3 || s.Signal != 0 {
		t.Errorf("exit 3: %+v", s)
	}
	if s := stateOf(term(143, 15, "Error")); s.Signal != syscall.SIGTERM {
		t.Errorf("SIGTERM: %+v", s)
	}
	running := &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: containerName,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Unix(10, 0)}}}}}}
	if s := stateOf(running); !s.Running || s.StartedAt.Unix() != 10 || s.Health != runtime.HealthNone {
		t.Errorf("running: %+v", s)
	}
}
