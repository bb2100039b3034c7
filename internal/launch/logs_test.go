package launch

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestScanLogs(t *testing.T) {
	oops := regexp.MustCompile(`OOPS \d+`)
	for _, tc := range []struct {
		name  string
		logs  string
		extra []*regexp.Regexp
		want  []LogHit
	}{
		{name: "clean", logs: "listening on :8080\nready\n"},
		{name: "go panic", logs: "ready\npanic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]\n",
			want: []LogHit{
				{Pattern: "panic", Line: 2, Text: "panic: runtime error: invalid memory address or nil pointer dereference"},
				{Pattern: "Segmentation fault", Line: 3, Text: "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]"},
			}},
		{name: "shell segfault", logs: "sh: line 1:    42 Segmentation fault      (core dumped) ./app",
			want: []LogHit{{Pattern: "Segmentation fault", Line: 1, Text: "sh: line 1:    42 Segmentation fault      (core dumped) ./app"}}},
		{name: "kernel segfault", logs: "app[42]: segfault at 0 ip 00007f sp 00007ffd error 4",
			want: []LogHit{{Pattern: "segfault", Line: 1, Text: "app[42]: segfault at 0 ip 00007f sp 00007ffd error 4"}}},
		{name: "core dumped", logs: "Aborted (core dumped)", want: []LogHit{{Pattern: "core dumped", Line: 1, Text: "Aborted (core dumped)"}}},
		{name: "glibc", logs: "/app: error while loading shared libraries: libssl.so.3: cannot open shared object file: No such file or directory",
			want: []LogHit{{Pattern: "error while loading shared libraries", Line: 1, Text: "/app: error while loading shared libraries: libssl.so.3: cannot open shared object file: No such file or directory"}}},
		{name: "musl", logs: "Error loading shared library libcrypto.so.3: No such file or directory (needed by /usr/bin/ssl_client)\nError relocating /usr/bin/ssl_client: SSL_new: symbol not found\n",
			want: []LogHit{
				{Pattern: "Error loading shared library", Line: 1, Text: "Error loading shared library libcrypto.so.3: No such file or directory (needed by /usr/bin/ssl_client)"},
				{Pattern: "symbol not found", Line: 2, Text: "Error relocating /usr/bin/ssl_client: SSL_new: symbol not found"},
			}},
		{name: "library not found", logs: "dyld: Library not found: @rpath/libfoo.dylib",
			want: []LogHit{{Pattern: "library not found", Line: 1, Text: "dyld: Library not found: @rpath/libfoo.dylib"}}},
		{name: "fatal levels", logs: "FATAL: could not bind\nlevel=fatal msg=boom\n{\"level\":\"fatal\",\"msg\":\"boom\"}\nfatal error: all goroutines are asleep - deadlock!\nthis is fatal.",
			want: []LogHit{
				{Pattern: "fatal", Line: 1, Text: "FATAL: could not bind"},
				{Pattern: "fatal", Line: 2, Text: "level=fatal msg=boom"},
				{Pattern: "fatal", Line: 3, Text: `{"level":"fatal","msg":"boom"}`},
				{Pattern: "fatal", Line: 4, Text: "fatal error: all goroutines are asleep - deadlock!"},
				{Pattern: "fatal", Line: 5, Text: "this is fatal."},
			}},
		{name: "settings and identifiers are not hits",
			logs: "config: fatal=false panic=0\n{\"fatal\":false}\nnon-fatal warning ignored\nstarting with --panic-on-oom\nloaded /lib/panic.so and panic.go\nfatalistic panicky mood\npanic_count=0"},
		{name: "a setting and a real word on one line", logs: "fatal=false, then a fatal error",
			want: []LogHit{{Pattern: "fatal", Line: 1, Text: "fatal=false, then a fatal error"}}},
		{name: "first pattern wins, built-ins first", logs: "panic: OOPS 7 core dumped",
			extra: []*regexp.Regexp{oops},
			want:  []LogHit{{Pattern: "core dumped", Line: 1, Text: "panic: OOPS 7 core dumped"}}},
		{name: "extra patterns", logs: "ok\r\n  OOPS 12  \r\n", extra: []*regexp.Regexp{oops},
			want: []LogHit{{Pattern: `OOPS \d+`, Line: 2, Text: "OOPS 12"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ScanLogs([]byte(tc.logs), tc.extra)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ScanLogs(%q)\n got %+v\nwant %+v", tc.logs, got, tc.want)
			}
		})
	}
}

func TestScanLogsClipsLongLines(t *testing.T) {
	line := "panic: " + strings.Repeat("é", 400)
	hits := ScanLogs([]byte(line), nil)
	if len(hits) != 1 {
		t.Fatalf("hits = %+v", hits)
	}
	if len(hits[0].Text) > maxLine+len("…") || !utf8.ValidString(hits[0].Text) || !strings.HasSuffix(hits[0].Text, "…") {
		t.Errorf("text not clipped to valid UTF-8: %d bytes %q", len(hits[0].Text), hits[0].Text)
	}
}

func TestLastLines(t *testing.T) {
	for _, tc := range []struct {
		logs string
		n    int
		want []string
	}{
		{"", 3, nil},
		{"a\n\n  b  \nc\n\n", 2, []string{"b", "c"}},
		{"a\nb", 5, []string{"a", "b"}},
	} {
		if got := LastLines([]byte(tc.logs), tc.n); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("LastLines(%q, %d) = %q, want %q", tc.logs, tc.n, got, tc.want)
		}
	}
}

func FuzzScanLogs(f *testing.F) {
	for _, s := range []string{"", "panic: x", "fatal=false", "\x00\xff fatal", "a\nb\r\nfatal.\n", `{"fatal":`, "-panic-", "Error relocating x: y: symbol not found"} {
		f.Add(s)
	}
	extra := []*regexp.Regexp{regexp.MustCompile(`(?i)boom`)}
	f.Fuzz(func(t *testing.T, logs string) {
		hits := ScanLogs([]byte(logs), extra)
		lines := strings.Split(logs, "\n")
		prev := 0
		for _, h := range hits {
			if h.Line <= prev || h.Line > len(lines) {
				t.Fatalf("hit on line %d after %d of %d lines", h.Line, prev, len(lines))
			}
			prev = h.Line
			if h.Pattern == "" || len(h.Text) > maxLine+len("…") {
				t.Fatalf("bad hit %+v", h)
			}
		}
	})
}
