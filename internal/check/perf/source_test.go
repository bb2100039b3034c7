package perf

import (
	"strings"
	"testing"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/runtime"
)

// TestGCSourceSaysWhatWasMeasured: with no metrics path the GC pause is not measured, and its
// source must not read "mean GC pause per cycle from ;" (it said so in every text report).
func TestGCSourceSaysWhatWasMeasured(t *testing.T) {
	for _, tc := range []struct {
		path, want string
	}{
		{"", ""},
		{"/metrics", "mean GC pause per cycle from /metrics; 2 paired rounds"},
	} {
		s := &session{p: config.Perf{MetricsPath: tc.path, Rate: 50}}
		var ms measured
		s.series([]roundObs{{}, {}}, [2]runtime.Stats{}, [2]runtime.Stats{}, nil, &ms)
		got := ms.s[GCPause]
		if tc.want == "" && got.Source != "" {
			t.Errorf("path %q: source %q, want none (nothing was measured)", tc.path, got.Source)
		}
		if tc.want != "" && !strings.Contains(got.Source, tc.want) {
			t.Errorf("path %q: source %q, want it to contain %q", tc.path, got.Source, tc.want)
		}
		if strings.Contains(got.Source, "from ;") {
			t.Errorf("path %q: source %q dangles", tc.path, got.Source)
		}
		if tc.path == "" && got.Skip == "" {
			t.Errorf("no metrics path and no reason the GC pause was skipped")
		}
	}
}
