package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ignoreDoc is a policy whose vulnerabilities.ignore lists n IDs, the last dup of them again.
func ignoreDoc(n, dup int) []byte {
	var b strings.Builder
	b.WriteString(header + "vulnerabilities:\n  ignore:\n")
	for i := range n {
		fmt.Fprintf(&b, "    - CVE-2024-%07d\n", i)
	}
	for i := range dup {
		fmt.Fprintf(&b, "    - CVE-2024-%07d\n", i)
	}
	return []byte(b.String())
}

// TestLargeIgnoreList: an ignore list of 300,000 IDs with repeats is validated, every repeat
// found. The bound is hundreds of times what the linear check takes; comparing every pair (as
// before) takes 15 s for 100,000 IDs on a free machine, over two minutes for 300,000.
func TestLargeIgnoreList(t *testing.T) {
	list := make([]string, 300_000)
	for i := range list {
		list[i] = fmt.Sprintf("CVE-2024-%07d", i%299_990) // the last 10 repeat the first 10
	}
	done := make(chan []*Problem, 1)
	go func() { done <- names(list, "vulnerabilities.ignore", "vulnerability ID") }()
	select {
	case ps := <-done:
		if len(ps) != 10 || ps[0].Path != "vulnerabilities.ignore[299990]" || !strings.Contains(ps[0].Msg, "given twice") {
			t.Errorf("%d problems, first %v; want the 10 repeats", len(ps), ps[0])
		}
	case <-time.After(60 * time.Second):
		t.Fatal("validating 300,000 ignore IDs takes more than a minute: the duplicate check is not linear")
	}
}

func BenchmarkValidateIgnore100k(b *testing.B) {
	list := make([]string, 100_000)
	for i := range list {
		list[i] = fmt.Sprintf("CVE-2024-%07d", i)
	}
	p := Default()
	p.Vulnerabilities.Ignore = list
	b.ResetTimer()
	for b.Loop() {
		if err := p.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseIgnore100k(b *testing.B) {
	doc := ignoreDoc(100_000, 0)
	b.SetBytes(int64(len(doc)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Parse(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFileSizeLimit: a policy file larger than MaxFileBytes is refused with one line naming the
// file and the limit, before it is decoded; one just under the limit is read.
func TestFileSizeLimit(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	doc := ignoreDoc(100_000, 0)
	doc = append(doc, strings.Repeat("# padding\n", (MaxFileBytes-len(doc))/10+1)...)
	if err := os.WriteFile(big, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(t.Context(), big)
	if !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "\n") ||
		!strings.Contains(err.Error(), big) || !strings.Contains(err.Error(), "4 MiB") {
		t.Errorf("Load(%d bytes) = %v, want one line wrapping ErrTooLarge and ErrInvalid that names the file and the limit", len(doc), err)
	}
	ok := filepath.Join(dir, "ok.yaml")
	if err := os.WriteFile(ok, doc[:MaxFileBytes-len("# padding\n")], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(t.Context(), ok); err != nil {
		t.Errorf("Load(%d bytes) = %v", MaxFileBytes-10, err)
	}
	if _, err := ReadFile(t.Context(), big, "fleet"); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "fleet") {
		t.Errorf("ReadFile(fleet) = %v", err)
	}
}

// TestDecodeHonoursCancellation: a cancelled context stops reading and decoding.
func TestDecodeHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := parse(ctx, ignoreDoc(1000, 0), "p.yaml"); !errors.Is(err, context.Canceled) {
		t.Errorf("parse(cancelled) = %v, want context.Canceled", err)
	}
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, ignoreDoc(10, 0), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, path); !errors.Is(err, context.Canceled) {
		t.Errorf("Load(cancelled) = %v, want context.Canceled", err)
	}
}
