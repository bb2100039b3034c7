package kube

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func itoa(i int) string { return strconv.Itoa(i) }

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// get returns the body of GET http://addr/, retrying for 30 s while the server starts.
func get(t *testing.T, addr string) string {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.Get("http://" + addr + "/")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET http://%s/: %v", addr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestIsLocal(t *testing.T) {
	mine := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.1.2.3"), net.ParseIP("fe80::1")}
	addr := func(typ corev1.NodeAddressType, a string) corev1.NodeAddress {
		return corev1.NodeAddress{Type: typ, Address: a}
	}
	for _, tc := range []struct {
		name  string
		addrs []corev1.NodeAddress
		want  bool
	}{
		{"the test node", []corev1.NodeAddress{addr(corev1.NodeInternalIP, "10.1.2.3"), addr(corev1.NodeHostName, "localhost")}, true},
		{"an interface address", []corev1.NodeAddress{addr(corev1.NodeInternalIP, "10.1.2.3"), addr(corev1.NodeHostName, "node-7")}, true},
		{"this hostname", []corev1.NodeAddress{addr(corev1.NodeHostName, "build-host")}, true},
		{"a remote node", []corev1.NodeAddress{addr(corev1.NodeInternalIP, "10.1.2.4"), addr(corev1.NodeHostName, "node-7")}, false},
		{"a kind node in a container", []corev1.NodeAddress{addr(corev1.NodeInternalIP, "172.18.0.2"), addr(corev1.NodeHostName, "kind-control-plane")}, false},
		{"an unreadable address", []corev1.NodeAddress{addr(corev1.NodeInternalIP, "not-an-ip")}, false},
		{"no addresses", nil, false},
	} {
		if got := isLocal(tc.addrs, "build-host", mine); got != tc.want {
			t.Errorf("%s: isLocal = %v, want %v", tc.name, got, tc.want)
		}
	}
}
