package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/plimsoll/plimsoll/internal/cli"
	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/verdict"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		interrupted bool
		want        int
	}{
		{"go", nil, false, 0},
		{"go decision", &cli.DecisionError{Decision: verdict.Go}, false, 0},
		{"caution", &cli.DecisionError{Decision: verdict.Caution}, false, 10},
		{"no-go", fmt.Errorf("wrapped: %w", &cli.DecisionError{Decision: verdict.NoGo}), false, 20},
		{"could not decide", &cli.DecisionError{Decision: verdict.Error}, false, 1},
		{"tool error", errors.New("image not found"), false, 1},
		{"usage", fmt.Errorf("%w: need two images", cli.ErrUsage), false, 2},
		{"bad policy", fmt.Errorf("load: %w", config.ErrInvalid), false, 2},
		{"malformed reference", fmt.Errorf("new image: %w", image.ErrBadReference), false, 2},
		{"image not found", fmt.Errorf("new image: %w", image.ErrNotFound), false, 1},
		{"cancelled", fmt.Errorf("scan: %w", context.Canceled), false, 130},
		{"signal wins over the error it caused", errors.New("docker: connection reset"), true, 130},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err, tt.interrupted); got != tt.want {
			t.Errorf("%s: exitCode = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestInterruptedLine: a run stopped by a signal says which signal, what it removed and what may
// be left, never just "context canceled".
func TestInterruptedLine(t *testing.T) {
	cause := interruption{syscall.SIGTERM}
	got := interruptedLine(cause, fmt.Errorf("smoke: %w", context.Canceled), []string{"plimsoll-r1-new-abc", "plimsoll-r1-old-def"}, nil)
	want := "interrupted by SIGTERM; removed 2 containers: plimsoll-r1-new-abc, plimsoll-r1-old-def"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	got = interruptedLine(interruption{os.Interrupt}, errors.New("remove x: engine hung"), nil, []string{"plimsoll-r1-new-abc"})
	want = "interrupted by SIGINT (remove x: engine hung); no containers to remove; 1 container may be left: plimsoll-r1-new-abc; `plimsoll gc` removes them"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := secondSignal(syscall.SIGTERM, []string{"a", "b"}); !strings.Contains(got, "second SIGTERM") || !strings.Contains(got, "a, b") || !strings.Contains(got, "plimsoll gc") {
		t.Errorf("secondSignal = %q", got)
	}
}
