//go:build fileprobe

package fileprobe

import (
	"bytes"
	"crypto/x509"
	"debug/elf"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// sharedLibrary checks that path is an ELF shared object of this machine's kind.
func sharedLibrary(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	if f.Type != elf.ET_DYN {
		t.Fatalf("%s: ELF type %s, want a shared object", path, f.Type)
	}
}

func TestMuslLoader(t *testing.T) { sharedLibrary(t, "/lib/ld-musl-x86_64.so.1") }

func TestLibcrypto(t *testing.T) { sharedLibrary(t, "/lib/libcrypto.so.3") }

func TestLibssl(t *testing.T) { sharedLibrary(t, "/lib/libssl.so.3") }

func TestCABundle(t *testing.T) {
	b, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatal("no certificate in the CA bundle")
	}
	if n := bytes.Count(b, []byte("BEGIN CERTIFICATE")); n < 50 {
		t.Fatalf("%d certificates in the CA bundle, want at least 50", n)
	}
}

func TestOSRelease(t *testing.T) {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\nID=alpine\n") {
		t.Fatalf("/etc/os-release does not say ID=alpine:\n%s", b)
	}
}

// TestUdhcpdConfig: an app that serves DHCP with busybox udhcpd starts from the default
// configuration the base image ships.
func TestUdhcpdConfig(t *testing.T) {
	b, err := os.ReadFile("/etc/udhcpd.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"start", "end", "interface"} {
		found := false
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == key {
				found = true
			}
		}
		if !found {
			t.Errorf("/etc/udhcpd.conf sets no %s", key)
		}
	}
}

// TestApp checks that the app under test answers on APP_URL; without APP_URL there is no app.
func TestApp(t *testing.T) {
	url := os.Getenv("APP_URL")
	if url == "" {
		t.Skip("APP_URL is not set")
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/: %s %q", url, resp.Status, body)
	}
}
