package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/plimsoll/plimsoll/internal/gate"
)

// progress draws the gate's events: on a terminal a bar for the running layer that is redrawn
// in place, elsewhere (CI logs) one plain line per finished check.
type progress struct {
	w   io.Writer
	tty bool
}

func newProgress(w io.Writer) *progress { return &progress{w: w, tty: isTerminal(w)} }

// isTerminal reports whether w is a terminal (a person watching), not a pipe or a file.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (p *progress) event(e gate.Event) {
	switch e.Kind {
	case gate.EventPlanned:
		fmt.Fprintf(p.w, "plan: %s\n", e.Message)
	case gate.EventCheckStart:
		if p.tty {
			fmt.Fprintf(p.w, "\r\033[K%-14s %s %d/%d %s …", e.Layer, bar(e.Index-1, e.Total), e.Index-1, e.Total, e.Check)
		}
	case gate.EventCheckDone:
		if p.tty {
			fmt.Fprint(p.w, "\r\033[K")
		}
		fmt.Fprintf(p.w, "%-14s %s %d/%d %-16s %-12s %s\n", e.Layer, bar(e.Index, e.Total), e.Index, e.Total, e.Check,
			strings.ToUpper(e.Status.String()), e.Elapsed.Round(10*time.Millisecond))
	case gate.EventLayerDone:
		if e.Message != "" {
			fmt.Fprintf(p.w, "%-14s %s\n", e.Layer, e.Message)
		}
	}
}

// bar draws done of total as a ten-cell bar.
func bar(done, total int) string {
	if total <= 0 {
		return "[" + strings.Repeat(" ", 10) + "]"
	}
	n := done * 10 / total
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", 10-n) + "]"
}
