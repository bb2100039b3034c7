package kubetest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// TestRealNode starts a node of its own (not the shared one), runs a pod pulled from a loopback
// registry, reads the kubelet's Summary API, stops the node and checks that nothing is left:
// no process, mount or cgroup of the node, the sysctls and host dirs as they were.
func TestRealNode(t *testing.T) {
	c := Start(t)
	if skip := c.nodeMissing(); skip != "" {
		skipOrFail(t, skip)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sysBefore := Sysctls()
	dirsBefore := existing(hostDirs)

	t0 := time.Now()
	n, _, err := c.startNode(ctx)
	if err != nil {
		t.Fatalf("start the node: %v", err)
	}
	t.Logf("node Ready in %s", time.Since(t0))
	stopped := false
	defer func() {
		if !stopped {
			n.stop()
		}
	}()
	if got := Sysctls(); !equalMaps(got, sysBefore) {
		t.Errorf("sysctls once the node is Ready = %v, want them restored to %v", got, sysBefore)
	}

	// An image pushed to a registry on loopback, pulled by the node by digest.
	img, err := PauseImageOf(n.PauseBinary())
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := n.Push(t, "kubetest/pause", img)

	ns := c.Namespace(t)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pause"},
		Spec: corev1.PodSpec{
			HostNetwork:                   true,
			RestartPolicy:                 corev1.RestartPolicyNever,
			NodeSelector:                  map[string]string{"kubernetes.io/hostname": RealNodeName},
			TerminationGracePeriodSeconds: ptr(int64(1)),
			AutomountServiceAccountToken:  ptr(false),
			Containers: []corev1.Container{{Name: "app", Image: ref,
				VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}}},
			Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}},
		},
	}
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, "pause", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Status.Phase == corev1.PodRunning {
			break
		}
		if p.Status.Phase == corev1.PodFailed || ctx.Err() != nil {
			t.Fatalf("pod %s: %+v", p.Status.Phase, p.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if ms, _ := Mounts(n.Dir); len(ms) == 0 {
		t.Error("a running pod mounts nothing under the node's dir: the leftover check below would prove nothing")
	}

	rc, err := rest.RESTClientFor(withCodec(n.KubeletConfig))
	if err != nil {
		t.Fatal(err)
	}
	summary, err := rc.Get().AbsPath("/stats/summary").DoRaw(ctx)
	if err != nil {
		t.Fatalf("kubelet /stats/summary: %v", err)
	}
	if !strings.Contains(string(summary), `"name": "pause"`) && !strings.Contains(string(summary), `"name":"pause"`) {
		t.Errorf("/stats/summary has no pod named pause:\n%.2000s", summary)
	}

	n.stop()
	stopped = true
	if ms, err := Mounts(n.Dir); err != nil || len(ms) > 0 {
		t.Errorf("mounts left under %s: %v %v", n.Dir, ms, err)
	}
	for _, r := range cgroupRoots() {
		if _, err := os.Stat(r); err == nil {
			t.Errorf("cgroup %s left", r)
		}
	}
	if left := processesMentioning(n.Dir); len(left) > 0 {
		t.Errorf("processes left: %v", left)
	}
	if _, err := os.Stat(n.Dir); err == nil {
		t.Errorf("%s left", n.Dir)
	}
	if got := Sysctls(); !equalMaps(got, sysBefore) {
		t.Errorf("sysctls after stop = %v, want %v", got, sysBefore)
	}
	if got := existing(hostDirs); !equalMaps(got, dirsBefore) {
		t.Errorf("host dirs after stop = %v, want %v", got, dirsBefore)
	}
}

func withCodec(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.GroupVersion = &corev1.SchemeGroupVersion
	cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	return cfg
}

func existing(paths []string) map[string]string {
	m := map[string]string{}
	for _, p := range paths {
		_, err := os.Stat(p)
		m[p] = map[bool]string{true: "present", false: "absent"}[err == nil]
	}
	return m
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// processesMentioning lists the processes whose command line mentions dir.
func processesMentioning(dir string) []string {
	var left []string
	fs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range fs {
		b, err := os.ReadFile(f)
		if err == nil && strings.Contains(string(b), dir) {
			left = append(left, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return left
}
