package check

import (
	"log/slog"

	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/timing"
)

// Env is what every check of one run gets: the two images and a logger. Checks that need more
// (a scanner, a runtime, a policy section) take it in their constructor.
type Env struct {
	// Old is the baseline image; nil for a first deployment, where checks judge New alone.
	Old *image.Image
	// New is the candidate image.
	New *image.Image
	// Log receives diagnostics; never nil (the gate gives a discarding logger by default).
	Log *slog.Logger
	// Timings receives the time spent in each phase of the run; nil records nothing.
	Timings *timing.Recorder
}
