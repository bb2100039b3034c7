// Package kubetest starts a real, local Kubernetes control plane for tests: etcd,
// kube-apiserver (RBAC on), kube-controller-manager and kube-scheduler, plus kwok simulating
// one node on which pods become Running and Ready about half a second after they are
// scheduled. No container runs: there is no kubelet, so pod logs and port-forward do not work.
//
// Two image markers make pods fail the way a kubelet reports it:
//   - an image whose tag ends in ":broken" (example/app:broken): the pod is never Ready (kwok
//     leaves it Pending, without container statuses);
//   - an image whose host is "unpullable." (unpullable.example/app:1,
//     unpullable.example/app@sha256:…): the image never pulls; the container waits with reason
//     ImagePullBackOff and message `Back-off pulling image "<image>"`, is not ready, and the
//     pod stays Pending. The marker applies to containers, not to init containers.
//
// The ":broken" rule is in the stages scripts/k8s-build.sh caches; the "unpullable." rule is
// added at start (unpullable-stage.yaml, and an exclusion in the pod-ready stage) into the
// cluster's own copy of the stages.
//
// The binaries are built by scripts/k8s-build.sh; kubetest builds nothing. It finds them in
// $PLIMSOLL_K8S_DIR or in the script's cache directory (PLIMSOLL_K8S_BUILD=1 lets it run the
// script, which is instant once built). When they are missing the test is skipped, or fails
// when PLIMSOLL_REQUIRE_K8S=1.
//
// One cluster serves a whole test binary. Use Main from TestMain so it is stopped and its
// directory removed at the end:
//
//	func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }
//
// Every process runs in its own process group and is killed by the kernel when the test
// binary dies (interrupted, timed out), so nothing outlives the tests; a directory left by
// such a binary is removed by the next Start.
package kubetest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// The versions scripts/k8s-build.sh builds by default; its cache directory is named after them.
const (
	k8sVersion  = "v1.34.4"
	etcdVersion = "v3.6.16"
	kwokVersion = "v0.8.0"
)

// NodeName is the name of the simulated node.
const NodeName = "kwok-node-0"

var binaries = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "etcd", "kwok"}

// Cluster is a running test cluster.
type Cluster struct {
	// Config is a cluster-admin configuration (client certificate, group system:masters).
	Config *rest.Config
	// Kubeconfig is the file of the same admin credentials, for kubectl and helm.
	Kubeconfig string
	Client     kubernetes.Interface
	// Dir holds the cluster's state: pki/, kubeconfigs, etcd's data and logs/.
	Dir string
	// StartTime is how long the cluster took from nothing to ready.
	StartTime time.Duration

	bin   string
	pki   *pki
	procs []*process
}

var shared struct {
	once sync.Once
	c    *Cluster
	skip string
	err  error
}

// Main runs the tests of a package with a shared cluster and stops it afterwards. The
// cluster's directory is kept, and its path printed, when a test failed.
func Main(m *testing.M) int {
	code := m.Run()
	if c := shared.c; c != nil {
		c.stop()
		if code == 0 {
			os.RemoveAll(c.Dir)
		} else {
			fmt.Fprintf(os.Stderr, "kubetest: cluster state and logs kept in %s\n", c.Dir)
		}
	}
	return code
}

// Start returns the test binary's cluster, starting it on first use. It skips the test when
// the binaries are missing (fails with PLIMSOLL_REQUIRE_K8S=1), fails it when the cluster
// cannot start, and prints the tail of every process's log when the test fails.
func Start(t testing.TB) *Cluster {
	t.Helper()
	shared.once.Do(func() { shared.c, shared.skip, shared.err = start() })
	if shared.skip != "" {
		skipOrFail(t, shared.skip)
	}
	if shared.err != nil {
		t.Fatalf("start the test cluster: %v", shared.err)
	}
	c := shared.c
	t.Cleanup(func() {
		if t.Failed() {
			c.dumpLogs(t)
		}
	})
	return c
}

// findBinaries returns the directory holding bin/ and kwok-stages.yaml, or why there is none.
func findBinaries() (dir, skip string, err error) {
	complete := func(d string) error {
		for _, b := range binaries {
			if _, err := os.Stat(filepath.Join(d, "bin", b)); err != nil {
				return err
			}
		}
		_, err := os.Stat(filepath.Join(d, "kwok-stages.yaml"))
		return err
	}
	if d := os.Getenv("PLIMSOLL_K8S_DIR"); d != "" {
		if err := complete(d); err != nil {
			return "", "", fmt.Errorf("PLIMSOLL_K8S_DIR=%s: %w", d, err)
		}
		return d, "", nil
	}
	cache := os.Getenv("PLIMSOLL_CACHE")
	if cache == "" {
		uc, err := os.UserCacheDir()
		if err != nil {
			return "", "", err
		}
		cache = filepath.Join(uc, "plimsoll")
	}
	d := filepath.Join(cache, "k8s", k8sVersion+"-etcd"+etcdVersion+"-kwok"+kwokVersion)
	if complete(d) == nil {
		return d, "", nil
	}
	script := filepath.Join(repoRoot(), "scripts", "k8s-build.sh")
	if os.Getenv("PLIMSOLL_K8S_BUILD") != "1" {
		return "", fmt.Sprintf("Kubernetes test binaries not found in %s: build them with %s (10-40 min) or set PLIMSOLL_K8S_DIR", d, script), nil
	}
	out, err := exec.Command("bash", script).Output()
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", script, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	d = lines[len(lines)-1]
	return d, "", complete(d)
}

func repoRoot() string {
	_, file, _, _ := goruntime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

func start() (*Cluster, string, error) {
	binDir, skip, err := findBinaries()
	if skip != "" || err != nil {
		return nil, skip, err
	}
	removeStale()
	dir, err := os.MkdirTemp("", "plimsoll-kubetest-")
	if err != nil {
		return nil, "", err
	}
	c := &Cluster{Dir: dir, bin: filepath.Join(binDir, "bin")}
	t0 := time.Now()
	stages, err := writeStages(filepath.Join(binDir, "kwok-stages.yaml"), dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	if err := c.boot(stages); err != nil {
		c.stop()
		return nil, "", fmt.Errorf("%w (logs in %s)\n%s", err, filepath.Join(dir, "logs"), c.tails(30))
	}
	c.StartTime = time.Since(t0)
	return c, "", nil
}

// unpullableStage is the kwok Stage that puts pods with an "unpullable." image into
// ImagePullBackOff.
//
//go:embed unpullable-stage.yaml
var unpullableStage []byte

// The pod-ready stage's exclusion as scripts/k8s-build.sh writes it, and what it becomes.
const (
	brokenExclusion     = `test(":broken$")`
	unpullableExclusion = `test(":broken$|^unpullable[.]")`
)

// withUnpullable returns the cached stages with pods whose image host is "unpullable." kept
// out of the pod-ready stage and given to unpullableStage instead.
func withUnpullable(cached []byte) ([]byte, error) {
	if n := bytes.Count(cached, []byte(brokenExclusion)); n != 1 {
		return nil, fmt.Errorf("kwok stages: want the pod-ready exclusion %s exactly once, found it %d times (rebuild with scripts/k8s-build.sh)", brokenExclusion, n)
	}
	out := bytes.Replace(cached, []byte(brokenExclusion), []byte(unpullableExclusion), 1)
	if !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	out = append(out, "---\n"...)
	return append(out, unpullableStage...), nil
}

// writeStages writes the cluster's kwok stages (the cached file withUnpullable) into dir and
// returns the file's path.
func writeStages(cached, dir string) (string, error) {
	b, err := os.ReadFile(cached)
	if err != nil {
		return "", fmt.Errorf("kwok stages: %w", err)
	}
	if b, err = withUnpullable(b); err != nil {
		return "", fmt.Errorf("%s: %w", cached, err)
	}
	path := filepath.Join(dir, "kwok-stages.yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", fmt.Errorf("kwok stages: %w", err)
	}
	return path, nil
}

// removeStale removes the directories of earlier test binaries that died without Main.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "plimsoll-kubetest-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && pid > 0 && !alive(pid) {
			os.RemoveAll(d)
		}
	}
}

func (c *Cluster) boot(stages string) error {
	if err := os.WriteFile(filepath.Join(c.Dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(c.Dir, "logs"), 0o755); err != nil {
		return err
	}
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	etcdPort, peerPort, apiPort := ports[0], ports[1], ports[2]
	server := fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	p, err := c.writePKI(server)
	if err != nil {
		return fmt.Errorf("PKI: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	etcd, err := c.run("etcd", "--name", "default", "--data-dir", filepath.Join(c.Dir, "etcd-data"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "default="+peerURL, "--log-level", "warn", "--unsafe-no-fsync")
	if err != nil {
		return err
	}
	if err := waitFor(ctx, etcd, "etcd healthy", func() error { return httpOK(etcdURL + "/health") }); err != nil {
		return err
	}

	api, err := c.run("kube-apiserver",
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(apiPort), "--advertise-address", "127.0.0.1",
		"--endpoint-reconciler-type", "none",
		"--tls-cert-file", p.path("apiserver.crt"), "--tls-private-key-file", p.path("apiserver.key"),
		"--client-ca-file", p.path("ca.crt"),
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", p.path("sa.pub"), "--service-account-signing-key-file", p.path("sa.key"),
		"--service-cluster-ip-range", "10.0.0.0/24",
		"--authorization-mode", "Node,RBAC", "--enable-admission-plugins", "NodeRestriction",
		// What a real kubelet needs (Node): the API server reaches it by its Hostname address
		// (the node is named localhost) for logs, exec and port-forward.
		"--kubelet-client-certificate", p.path("apiserver-kubelet-client.crt"), "--kubelet-client-key", p.path("apiserver-kubelet-client.key"),
		"--kubelet-certificate-authority", p.path("ca.crt"), "--kubelet-preferred-address-types", "Hostname",
		"--profiling=false")
	if err != nil {
		return err
	}
	c.Kubeconfig = filepath.Join(c.Dir, "admin.kubeconfig")
	if c.Config, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		return err
	}
	c.Config.QPS, c.Config.Burst = 100, 200
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return err
	}
	rc := c.Client.Discovery().RESTClient()
	if err := waitFor(ctx, api, "kube-apiserver /readyz", func() error {
		_, err := rc.Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	}); err != nil {
		return err
	}

	kcm, err := c.run("kube-controller-manager", "--kubeconfig", filepath.Join(c.Dir, "kcm.kubeconfig"),
		"--bind-address", "127.0.0.1", "--secure-port", "0", "--leader-elect=false",
		"--service-account-private-key-file", p.path("sa.key"), "--root-ca-file", p.path("ca.crt"),
		"--use-service-account-credentials=true", "--cluster-name", "kubetest", "--controllers", "*", "--profiling=false")
	if err != nil {
		return err
	}
	if _, err := c.run("kube-scheduler", "--kubeconfig", filepath.Join(c.Dir, "scheduler.kubeconfig"),
		"--bind-address", "127.0.0.1", "--secure-port", "0", "--leader-elect=false", "--profiling=false"); err != nil {
		return err
	}
	kwok, err := c.run("kwok", "--kubeconfig", c.Kubeconfig, "--config", stages,
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--node-lease-duration-seconds=40", "--cidr=10.244.0.1/16", "--node-ip=10.244.255.254")
	if err != nil {
		return err
	}
	if err := waitFor(ctx, api, "create the kwok node", func() error {
		_, err := c.Client.CoreV1().Nodes().Create(ctx, kwokNode(), metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}); err != nil {
		return err
	}
	if err := waitFor(ctx, kwok, "node Ready", func() error {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return errors.New("not Ready yet")
	}); err != nil {
		return err
	}
	return waitFor(ctx, kcm, "service account default/default", func() error {
		_, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

func (c *Cluster) writePKI(server string) (*pki, error) {
	p, err := newPKI(filepath.Join(c.Dir, "pki"))
	if err != nil {
		return nil, err
	}
	if _, _, err := p.issue("apiserver", pkixName("kube-apiserver"),
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		[]net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.0.0.1")}); err != nil {
		return nil, err
	}
	if err := p.serviceAccountKeys(); err != nil {
		return nil, err
	}
	admin := pkixName("kubernetes-admin")
	admin.Organization = []string{"system:masters"}
	apiKubelet := pkixName("kube-apiserver-kubelet-client")
	apiKubelet.Organization = []string{"system:masters"}
	if _, _, err := p.issue("apiserver-kubelet-client", apiKubelet, nil, nil); err != nil {
		return nil, err
	}
	c.pki = p
	for _, k := range []struct {
		file, name string
	}{{"kcm.kubeconfig", "system:kube-controller-manager"}, {"scheduler.kubeconfig", "system:kube-scheduler"}} {
		if err := p.kubeconfig(filepath.Join(c.Dir, k.file), server, k.name, pkixName(k.name)); err != nil {
			return nil, err
		}
	}
	return p, p.kubeconfig(filepath.Join(c.Dir, "admin.kubeconfig"), server, "kubernetes-admin", admin)
}

func kwokNode() *corev1.Node {
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        NodeName,
			Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"},
			Labels: map[string]string{"kubernetes.io/arch": "amd64", "kubernetes.io/hostname": NodeName,
				"kubernetes.io/os": "linux", "kubernetes.io/role": "agent", "node-role.kubernetes.io/agent": "", "type": "kwok"},
		},
		Status: corev1.NodeStatus{Allocatable: res, Capacity: res, Phase: corev1.NodeRunning,
			NodeInfo: corev1.NodeSystemInfo{Architecture: "amd64", OperatingSystem: "linux", KubeletVersion: "fake", KubeProxyVersion: "fake"}},
	}
}

// waitFor polls check every 100 ms until it succeeds, the process p exits or ctx ends.
func waitFor(ctx context.Context, p *process, what string, check func() error) error {
	var last error
	for {
		if last = check(); last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited while waiting for %s: %v", p.name, what, p.err)
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s: %v", what, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Namespace creates a fresh namespace named after the test; it is deleted when the test ends.
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	var b [3]byte
	_, _ = rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(t.Name()))
	if len(name) > 48 {
		name = name[:48]
	}
	name = strings.Trim(name, "-") + "-" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() { _ = c.Client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return name
}

// RBACFile is the shipped RBAC manifest Restricted applies.
func RBACFile() string { return filepath.Join(repoRoot(), "deploy", "rbac", "plimsoll.yaml") }

// Restricted returns a configuration authenticated as the ServiceAccount of the shipped RBAC
// manifest (RBACFile), bound to its roles in namespace ns and to nothing else. The manifest's
// namespaced objects are created in ns; its ClusterRoleBindings get ns appended to their name
// and are deleted when the test ends.
func (c *Cluster) Restricted(t testing.TB, ns string) *rest.Config {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sa, err := c.applyRBAC(ctx, t, ns)
	if err != nil {
		t.Fatalf("apply %s in %s: %v", RBACFile(), ns, err)
	}
	tok, err := c.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for service account %s/%s: %v", ns, sa, err)
	}
	cfg := &rest.Config{Host: c.Config.Host, BearerToken: tok.Status.Token, QPS: 100, Burst: 200,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.Config.CAData}, UserAgent: "plimsoll-restricted"}
	// The authorizer learns of new bindings through a watch: wait until it has.
	rc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for {
		r, err := rc.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: ns, Verb: "patch", Group: "apps", Resource: "deployments"}}}, metav1.CreateOptions{})
		if err == nil && r.Status.Allowed {
			return cfg
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the RBAC of %s never allowed patching deployments in %s: %v", RBACFile(), ns, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// applyRBAC creates the manifest's objects for namespace ns and returns the ServiceAccount's name.
func (c *Cluster) applyRBAC(ctx context.Context, t testing.TB, ns string) (string, error) {
	raw, err := os.ReadFile(RBACFile())
	if err != nil {
		return "", err
	}
	rd := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	sa := ""
	for {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			return "", err
		}
		rbac := c.Client.RbacV1()
		switch o := obj.(type) {
		case *corev1.ServiceAccount:
			o.Namespace, sa = ns, o.Name
			_, err = c.Client.CoreV1().ServiceAccounts(ns).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.Role:
			o.Namespace = ns
			_, err = rbac.Roles(ns).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			o.Namespace = ns
			inNamespace(o.Subjects, ns)
			_, err = rbac.RoleBindings(ns).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.ClusterRole:
			_, err = rbac.ClusterRoles().Create(ctx, o, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				var old *rbacv1.ClusterRole
				if old, err = rbac.ClusterRoles().Get(ctx, o.Name, metav1.GetOptions{}); err == nil {
					o.ResourceVersion = old.ResourceVersion
					_, err = rbac.ClusterRoles().Update(ctx, o, metav1.UpdateOptions{})
				}
			}
		case *rbacv1.ClusterRoleBinding:
			o.Name += "-" + ns
			inNamespace(o.Subjects, ns)
			_, err = rbac.ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
			name := o.Name
			t.Cleanup(func() { _ = rbac.ClusterRoleBindings().Delete(context.Background(), name, metav1.DeleteOptions{}) })
		default:
			return "", fmt.Errorf("unexpected %T in the RBAC manifest", obj)
		}
		if err != nil {
			return "", err
		}
	}
	if sa == "" {
		return "", errors.New("the RBAC manifest has no ServiceAccount")
	}
	return sa, nil
}

func inNamespace(subjects []rbacv1.Subject, ns string) {
	for i := range subjects {
		if subjects[i].Kind == rbacv1.ServiceAccountKind {
			subjects[i].Namespace = ns
		}
	}
}

func ptr[T any](v T) *T { return &v }

// Kubectl runs the cluster's kubectl (the same version as the server) with the admin
// kubeconfig and returns its standard output; the test fails when it fails.
func (c *Cluster) Kubectl(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(c.bin, "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}

// KubeconfigFile writes cfg (a bearer-token configuration such as Restricted's) as a
// kubeconfig file in the test's temp dir, for the plimsoll binary or kubectl, and returns its
// path. Its context's namespace is ns.
func (c *Cluster) KubeconfigFile(t testing.TB, cfg *rest.Config, ns string) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["kubetest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["user"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken, ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	kc.Contexts["kubetest"] = &clientcmdapi.Context{Cluster: "kubetest", AuthInfo: "user", Namespace: ns}
	kc.CurrentContext = "kubetest"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// skipOrFail skips t for reason, or fails it where PLIMSOLL_REQUIRE_K8S=1 says the cluster must
// run.
func skipOrFail(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("PLIMSOLL_REQUIRE_K8S") == "1" {
		t.Fatalf("PLIMSOLL_REQUIRE_K8S=1: %s", reason)
	}
	t.Skip(reason)
}
