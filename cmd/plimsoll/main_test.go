package main

import (
	"context"
	"errors"
	"fmt"
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
