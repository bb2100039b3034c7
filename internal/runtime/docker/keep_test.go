package docker

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/runtime"
)

// TestOrphanedKeepUntil: a container whose owner died is reaped, unless LabelKeepUntil holds a
// time still to come (a soak that can be resumed); an unreadable keep-until keeps it too.
func TestOrphanedKeepUntil(t *testing.T) {
	r := &Runtime{owner: owner{pid: os.Getpid(), host: "host-a"}}
	created := time.Now().UTC().Format(time.RFC3339Nano) // after this test process started
	dead := 1 << 22                                      // above pid_max's default: no such process
	tests := []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{name: "owner dead", labels: map[string]string{}, want: true},
		{name: "owner alive", labels: map[string]string{runtime.LabelPID: strconv.Itoa(os.Getpid())}, want: false},
		{name: "kept", labels: map[string]string{LabelKeepUntil: time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, want: false},
		{name: "keep expired", labels: map[string]string{LabelKeepUntil: time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}, want: true},
		{name: "keep unreadable", labels: map[string]string{LabelKeepUntil: "tomorrow"}, want: false},
	}
	for _, tc := range tests {
		l := map[string]string{runtime.LabelHost: "host-a", runtime.LabelPID: strconv.Itoa(dead), runtime.LabelStarted: created}
		for k, v := range tc.labels {
			l[k] = v
		}
		if got := r.orphaned(l); got != tc.want {
			t.Errorf("%s: orphaned = %v, want %v", tc.name, got, tc.want)
		}
	}
}
