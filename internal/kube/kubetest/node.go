package kubetest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/plimsoll/plimsoll/internal/testenv"
)

// RealNodeName is the name of the real node: the kubelet registers under its Hostname address,
// which is how the API server reaches it (localhost, so logs, exec and port-forward stay on
// loopback).
const RealNodeName = "localhost"

// PauseImage is the pod sandbox image the node's containerd holds: scripts/k8s-build.sh's
// static pause binary in a one-layer image FROM scratch, imported at start, never pulled.
const PauseImage = "plimsoll.local/kubetest/pause:1"

// nodeBinaries are the files the real node needs from scripts/k8s-build.sh's cache.
var nodeBinaries = []string{"kubelet", "cni/loopback", "pause"}

// Host paths of the real node. The kubelet hard-codes some paths outside its root directory
// (device-plugins, /var/log/containers), so one node runs per machine: nodeLock serialises the
// test binaries that want one.
var (
	nodeLock = filepath.Join(os.TempDir(), "plimsoll-kubetest-node.lock")
	nodeDir  = filepath.Join(os.TempDir(), "plimsoll-kubetest-node")
	// hostDirs are created by the kubelet or CNI outside nodeDir when absent; the node removes
	// those it created.
	hostDirs = []string{"/var/log/containers", "/var/lib/kubelet", "/var/lib/cni"}
	// sysctls are the kernel tunables the kubelet sets at start; they are put back once the
	// node is Ready and again when it stops.
	sysctls = []string{"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
		"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"}
)

// cgroupName is the kubelet's cgroupRoot (in every cgroup v1 hierarchy, or the v2 tree): every
// pod's cgroup lives below it, so removing it removes them all.
const cgroupName = "plimsoll-kubetest"

// Node is the cluster's real node: a kubelet and a private containerd (Debian's, CRI plugin on),
// its state in one directory, which runs the pods scheduled onto it. The CNI configuration
// holds only the loopback plugin: pods must use the host network and listen on 127.0.0.1 (the
// node's InternalIP is the machine's interface address: never dial it, nor a pod IP).
type Node struct {
	// Name is RealNodeName.
	Name string
	// Kubelet is the kubelet's HTTPS address on loopback (Summary API: /stats/summary). The API
	// server refuses to proxy to a loopback node, so tests read it directly with KubeletConfig.
	Kubelet string
	// KubeletConfig authenticates to the kubelet (the cluster's admin client certificate) and
	// trusts its serving certificate.
	KubeletConfig *rest.Config
	// Containerd is the private containerd's socket.
	Containerd string
	// Dir holds the node's state (containerd's root and state, the kubelet's root dir, logs).
	Dir string

	lock     *os.File
	procs    []*process
	cluster  *Cluster
	certsDir string
}

var sharedNode struct {
	once sync.Once
	n    *Node
	skip string
	err  error
}

// Node returns the test binary's real node, starting it on first use and stopping it in Main.
// It waits while another test binary holds the machine's node. It skips the test when the node
// cannot run here (not root, no containerd, no kubelet build), or fails it with
// PLIMSOLL_REQUIRE_K8S=1.
func (c *Cluster) Node(t testing.TB) *Node {
	t.Helper()
	sharedNode.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		sharedNode.n, sharedNode.skip, sharedNode.err = c.startNode(ctx)
	})
	if sharedNode.skip != "" {
		skipOrFail(t, sharedNode.skip)
	}
	if sharedNode.err != nil {
		t.Fatalf("start the real node: %v", sharedNode.err)
	}
	n := sharedNode.n
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("real node logs (full logs in %s):\n%s", filepath.Join(n.Dir, "logs"), tailsOf(n.procs, 40))
		}
	})
	return n
}

// nodeMissing says what the machine lacks to run a real node, or "".
func (c *Cluster) nodeMissing() string {
	if os.Geteuid() != 0 {
		return "the real node needs root (containerd, runc, cgroups, mounts)"
	}
	for _, f := range []string{"/usr/bin/containerd", "/usr/bin/ctr", "/usr/bin/containerd-shim-runc-v2", "/usr/sbin/runc"} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Sprintf("the real node needs Debian's containerd and runc (%s missing: run scripts/setup.sh --test)", f)
		}
	}
	for _, b := range nodeBinaries {
		if _, err := os.Stat(filepath.Join(c.bin, b)); err != nil {
			return fmt.Sprintf("the real node needs %s: build it with %s", filepath.Join(c.bin, b), filepath.Join(repoRoot(), "scripts", "k8s-build.sh"))
		}
	}
	return ""
}

// startNode takes the machine's node lock, cleans what a dead test binary left, and starts
// containerd and the kubelet until the node is Ready.
func (c *Cluster) startNode(ctx context.Context) (*Node, string, error) {
	if skip := c.nodeMissing(); skip != "" {
		return nil, skip, nil
	}
	lock, err := lockFile(ctx, nodeLock)
	if err != nil {
		return nil, "", err
	}
	n := &Node{Name: RealNodeName, Dir: nodeDir, lock: lock, cluster: c}
	if err := n.cleanup(); err != nil {
		n.release()
		return nil, "", fmt.Errorf("leftovers of an earlier node: %w", err)
	}
	if err := n.boot(ctx); err != nil {
		tails := tailsOf(n.procs, 30)
		n.stop()
		return nil, "", fmt.Errorf("%w\n%s", err, tails)
	}
	return n, "", nil
}

// lockFile takes an exclusive flock on path, waiting until ctx ends.
func lockFile(ctx context.Context, path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("another test binary kept the real node (%s): %w", path, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (n *Node) release() {
	if n.lock != nil {
		n.lock.Close() // releases the flock
		n.lock = nil
	}
}

func (n *Node) boot(ctx context.Context) error {
	c := n.cluster
	for _, d := range []string{"logs", "containerd", "kubelet", "pod-logs", "cni/net.d", "cni/bin", "certs.d"} {
		if err := os.MkdirAll(filepath.Join(n.Dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(n.Dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return err
	}
	if err := saveHostState(n.Dir); err != nil {
		return err
	}
	if err := makeCgroupRoot(); err != nil {
		return fmt.Errorf("cgroup root: %w", err)
	}
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	kubeletPort, healthzPort := ports[0], ports[1]
	n.Kubelet = net.JoinHostPort("127.0.0.1", strconv.Itoa(kubeletPort))
	n.Containerd = filepath.Join(n.Dir, "containerd", "containerd.sock")
	n.certsDir = filepath.Join(n.Dir, "certs.d")

	p := &pki{dir: filepath.Join(c.Dir, "pki"), caCert: c.pki.caCert, caKey: c.pki.caKey, caPEM: c.pki.caPEM}
	if _, _, err := p.issue("kubelet-serving", pkixName(RealNodeName), []string{RealNodeName}, []net.IP{net.ParseIP("127.0.0.1")}); err != nil {
		return err
	}
	nodeUser := pkixName("system:node:" + RealNodeName)
	nodeUser.Organization = []string{"system:nodes"}
	if err := p.kubeconfig(filepath.Join(n.Dir, "kubelet.kubeconfig"), c.Config.Host, "system:node:"+RealNodeName, nodeUser); err != nil {
		return err
	}
	kc := rest.CopyConfig(c.Config)
	kc.Host = "https://" + n.Kubelet
	kc.TLSClientConfig.ServerName = RealNodeName
	n.KubeletConfig = kc

	// containerd
	cni := filepath.Join(n.Dir, "cni")
	if err := copyFile(filepath.Join(c.bin, "cni", "loopback"), filepath.Join(cni, "bin", "loopback"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cni, "net.d", "10-loopback.conflist"),
		[]byte(`{"cniVersion": "1.0.0", "name": "kubetest-loopback", "plugins": [{"type": "loopback"}]}`+"\n"), 0o644); err != nil {
		return err
	}
	cfg := filepath.Join(n.Dir, "containerd", "config.toml")
	if err := os.WriteFile(cfg, []byte(containerdConfig(n.Dir)), 0o644); err != nil {
		return err
	}
	ctrd, err := c.runIn(&n.procs, n.Dir, "containerd", "/usr/bin/containerd", nil, "--config", cfg)
	if err != nil {
		return err
	}
	if err := waitFor(ctx, ctrd, "containerd", func() error { return exec.Command("/usr/bin/ctr", "-a", n.Containerd, "version").Run() }); err != nil {
		return err
	}
	if err := n.importPause(ctx, filepath.Join(c.bin, "pause")); err != nil {
		return err
	}

	// kubelet
	kcfg := filepath.Join(n.Dir, "kubelet", "config.yaml")
	if err := os.WriteFile(kcfg, []byte(kubeletConfig(n.Dir, p, kubeletPort, healthzPort)), 0o644); err != nil {
		return err
	}
	// PATH without /usr/sbin: the kubelet finds no iptables and leaves the host's rules alone.
	kubelet, err := c.runIn(&n.procs, n.Dir, "kubelet", filepath.Join(c.bin, "kubelet"), []string{"PATH=/usr/bin:/bin"},
		"--config", kcfg, "--kubeconfig", filepath.Join(n.Dir, "kubelet.kubeconfig"),
		"--hostname-override", RealNodeName, "--root-dir", filepath.Join(n.Dir, "kubelet"),
		"--cert-dir", filepath.Join(n.Dir, "kubelet", "pki"), "--v=1")
	if err != nil {
		return err
	}
	err = waitFor(ctx, kubelet, "node "+RealNodeName+" Ready", func() error {
		node, err := c.Client.CoreV1().Nodes().Get(ctx, RealNodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return errors.New("not Ready yet")
	})
	// The kubelet set its kernel tunables once, at start: put the host's back now.
	if rerr := restoreSysctls(n.Dir); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// importPause packs the pause binary into PauseImage and imports it into containerd.
func (n *Node) importPause(ctx context.Context, bin string) error {
	ref, err := name.ParseReference(PauseImage)
	if err != nil {
		return err
	}
	img, err := PauseImageOf(bin)
	if err != nil {
		return err
	}
	path := filepath.Join(n.Dir, "pause.tar")
	if err := tarball.WriteToFile(path, ref, img); err != nil {
		return err
	}
	return n.Ctr(ctx, "images", "import", path)
}

// PauseBinary is the static pause program of scripts/k8s-build.sh: a tiny process that waits
// for SIGTERM, for tests that need an image holding something to run.
func (n *Node) PauseBinary() string { return filepath.Join(n.cluster.bin, "pause") }

// PauseImageOf returns a one-layer image FROM scratch holding the file bin as /pause, its
// entrypoint, run as 65535.
func PauseImageOf(bin string) (v1.Image, error) {
	layer, err := tarball.LayerFromOpener(tarOfFile(bin, "pause"))
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Config.Entrypoint = []string{"/pause"}
	cf.Config.User = "65535:65535"
	return mutate.ConfigFile(img, cf)
}

// Ctr runs containerd's ctr against the node's containerd, in the kubelet's namespace.
func (n *Node) Ctr(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "/usr/bin/ctr", append([]string{"-a", n.Containerd, "-n", "k8s.io"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Push starts a registry on loopback that the node trusts, pushes img to it as REPO:1 and
// returns its reference by digest (what the node pulls) and the registry's host.
func (n *Node) Push(t testing.TB, repo string, img v1.Image) (ref, host string) {
	t.Helper()
	host = testenv.Registry(t, nil)
	if err := n.TrustRegistry(host); err != nil {
		t.Fatal(err)
	}
	tag, err := name.ParseReference(host + "/" + repo + ":1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return host + "/" + repo + "@" + d.String(), host
}

// TrustRegistry lets the node pull from host ("127.0.0.1:PORT", a registry on loopback) over
// plain HTTP, as a cluster's nodes are configured for an internal registry.
func (n *Node) TrustRegistry(host string) error {
	d := filepath.Join(n.certsDir, host)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d, "hosts.toml"), fmt.Appendf(nil,
		"server = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", "http://"+host, "http://"+host), 0o644)
}

func containerdConfig(dir string) string {
	d := func(p string) string { return strconv.Quote(filepath.Join(dir, p)) }
	return `version = 2
root = ` + d("containerd/root") + `
state = ` + d("containerd/state") + `
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = ` + d("containerd/containerd.sock") + `
[ttrpc]
  address = ""
[debug]
  address = ""
  level = "warn"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = ` + d("containerd/opt") + `
[plugins."io.containerd.runtime.v1.linux"]
  runtime_root = ` + d("containerd/runc-v1") + `
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "` + PauseImage + `"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  # The kubelet asks oom_score_adj -998 for sandboxes; where CAP_SYS_RESOURCE is not in the
  # bounding set nobody may lower it, and runc fails ("can't get final child's PID from pipe").
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = ` + d("containerd/runc") + `
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = ` + d("cni/bin") + `
    conf_dir = ` + d("cni/net.d") + `
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ` + d("certs.d") + `
`
}

func kubeletConfig(dir string, p *pki, port, healthz int) string {
	sock := "unix://" + filepath.Join(dir, "containerd", "containerd.sock")
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: %d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %d
tlsCertFile: %s
tlsPrivateKeyFile: %s
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %s}
authorization: {mode: Webhook}
containerRuntimeEndpoint: %s
imageServiceEndpoint: %s
cgroupDriver: cgroupfs
cgroupRoot: /%s
cgroupsPerQOS: true
enforceNodeAllocatable: [pods]
failCgroupV1: false
failSwapOn: false
podLogsDir: %s
evictionHard: {memory.available: 100Mi, nodefs.available: 1%%, imagefs.available: 1%%, nodefs.inodesFree: 1%%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
maxPods: 60
resolvConf: /etc/resolv.conf
staticPodPath: ""
`, port, healthz, p.path("kubelet-serving.crt"), p.path("kubelet-serving.key"), p.path("ca.crt"),
		sock, sock, cgroupName, filepath.Join(dir, "pod-logs"))
}

// stop deletes the node's pods through the kubelet, stops the kubelet and containerd, removes
// what they left (shims, mounts, cgroups, host dirs), restores the sysctls and releases the
// machine's node lock.
func (n *Node) stop() {
	c := n.cluster
	if c.Client != nil && len(n.procs) > 1 {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		pods, err := c.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + RealNodeName})
		if err == nil {
			zero := int64(0)
			for _, p := range pods.Items {
				_ = c.Client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
			}
			for ctx.Err() == nil {
				left, err := c.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + RealNodeName})
				if err != nil || len(left.Items) == 0 {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
		cancel()
		_ = c.Client.CoreV1().Nodes().Delete(context.Background(), RealNodeName, metav1.DeleteOptions{})
	}
	stopAll(n.procs)
	n.procs = nil
	if err := n.cleanup(); err != nil {
		fmt.Fprintf(os.Stderr, "kubetest: real node cleanup: %v\n", err)
	}
	n.release()
}

// cleanup removes what a node in nodeDir left: processes in its cgroups (containers, shims
// found by their containerd socket), mounts, cgroups, the host dirs it created; it restores
// the recorded sysctls and removes nodeDir. It runs under the node lock.
func (n *Node) cleanup() error {
	var errs []error
	sock := filepath.Join(n.Dir, "containerd", "containerd.sock")
	killShims(sock)
	killCgroupProcs()
	if err := unmountUnder(n.Dir); err != nil {
		errs = append(errs, err)
	}
	if err := removeCgroupRoot(); err != nil {
		errs = append(errs, err)
	}
	if err := restoreSysctls(n.Dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	if err := removeHostDirs(n.Dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		if err := os.RemoveAll(n.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// killShims kills the containerd shims serving the containerd at sock (they outlive it).
func killShims(sock string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) == 0 || !strings.Contains(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		if i := slices.Index(args, "-address"); i >= 0 && i+1 < len(args) && args[i+1] == sock {
			if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

// cgroupRoots returns the node's cgroup root in every hierarchy it may exist in.
func cgroupRoots() []string {
	if cgroupV2() {
		return []string{filepath.Join("/sys/fs/cgroup", cgroupName)}
	}
	var roots []string
	hs, _ := os.ReadDir("/sys/fs/cgroup")
	for _, h := range hs {
		roots = append(roots, filepath.Join("/sys/fs/cgroup", h.Name(), cgroupName))
	}
	return roots
}

func cgroupV2() bool {
	var st syscall.Statfs_t
	return syscall.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == 0x63677270 // CGROUP2_SUPER_MAGIC
}

func makeCgroupRoot() error {
	if cgroupV2() {
		return os.MkdirAll(filepath.Join("/sys/fs/cgroup", cgroupName), 0o755)
	}
	hs, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return err
	}
	for _, h := range hs {
		dir := filepath.Join("/sys/fs/cgroup", h.Name())
		var st syscall.Statfs_t
		if syscall.Statfs(dir, &st) != nil || st.Type != 0x27e0eb { // CGROUP_SUPER_MAGIC (v1)
			continue
		}
		root := filepath.Join(dir, cgroupName)
		if err := os.MkdirAll(root, 0o755); err != nil {
			return err
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} { // a v1 cpuset child starts empty
			if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
				if err := os.WriteFile(filepath.Join(root, f), b, 0o644); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// killCgroupProcs kills every process left in the node's cgroups.
func killCgroupProcs() {
	for _, root := range cgroupRoots() {
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			b, _ := os.ReadFile(filepath.Join(path, "cgroup.procs"))
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			return nil
		})
	}
}

// removeCgroupRoot removes the node's cgroup trees, deepest first, retrying while the killed
// processes exit.
func removeCgroupRoot() error {
	var last error
	for range 50 {
		last = nil
		for _, root := range cgroupRoots() {
			var dirs []string
			_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					dirs = append(dirs, path)
				}
				return nil
			})
			for i := len(dirs) - 1; i >= 0; i-- {
				if err := syscall.Rmdir(dirs[i]); err != nil && !errors.Is(err, syscall.ENOENT) {
					last = fmt.Errorf("remove cgroup %s: %w", dirs[i], err)
				}
			}
		}
		if last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// Mounts returns the mount points at or below dir, deepest first.
func Mounts(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ms []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		m := unescapeMount(fields[4])
		if m == dir || strings.HasPrefix(m, dir+"/") {
			ms = append(ms, m)
		}
	}
	slices.SortFunc(ms, func(a, b string) int { return len(b) - len(a) })
	return ms, sc.Err()
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unmountUnder(dir string) error {
	ms, err := Mounts(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range ms {
		if err := syscall.Unmount(m, 0); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
				errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
			}
		}
	}
	return errors.Join(errs...)
}

// saveHostState records the sysctls and which host dirs exist, unless an earlier node's record
// is there (cleanup restores it first).
func saveHostState(dir string) error {
	var b strings.Builder
	for _, s := range sysctls {
		v, err := os.ReadFile(filepath.Join("/proc/sys", s))
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "%s %s\n", s, strings.TrimSpace(string(v)))
	}
	if err := os.WriteFile(filepath.Join(dir, "sysctl.orig"), []byte(b.String()), 0o600); err != nil {
		return err
	}
	b.Reset()
	for _, d := range hostDirs {
		if _, err := os.Stat(d); err != nil {
			fmt.Fprintln(&b, d)
		}
	}
	return os.WriteFile(filepath.Join(dir, "hostdirs.absent"), []byte(b.String()), 0o600)
}

// Sysctls reads the kernel tunables the kubelet changes, for tests that check they are back.
func Sysctls() map[string]string {
	m := map[string]string{}
	for _, s := range sysctls {
		if v, err := os.ReadFile(filepath.Join("/proc/sys", s)); err == nil {
			m[s] = strings.TrimSpace(string(v))
		}
	}
	return m
}

func restoreSysctls(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "sysctl.orig"))
	if err != nil {
		return err
	}
	var errs []error
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if !ok || !slices.Contains(sysctls, k) {
			continue
		}
		if err := os.WriteFile(filepath.Join("/proc/sys", k), []byte(v), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restore %s: %w", k, err))
		}
	}
	return errors.Join(errs...)
}

// removeHostDirs removes the host dirs the kubelet created (absent before the node started).
func removeHostDirs(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "hostdirs.absent"))
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range strings.Fields(string(b)) {
		if !slices.Contains(hostDirs, d) {
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}

// tarOfFile returns an opener of a one-file layer tar: file at /name, mode 0755, owned by root.
func tarOfFile(file, name string) tarball.Opener {
	return func() (io.ReadCloser, error) {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(b); err != nil {
			return nil, err
		}
		if err := tw.Close(); err != nil {
			return nil, err
		}
		return io.NopCloser(&buf), nil
	}
}
