package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// profiler writes CPU and heap profiles of one command into a directory (--profile), for
// `go tool pprof`.
type profiler struct {
	dir string
	cpu *os.File
}

func (p *profiler) register(root *cobra.Command) {
	root.PersistentFlags().StringVar(&p.dir, "profile", "", "write CPU and heap profiles of this run into this directory (cpu.pprof, heap.pprof)")
	root.PersistentPreRunE = func(*cobra.Command, []string) error { return p.start() }
}

// start begins the CPU profile when a directory was given.
func (p *profiler) start() error {
	if p.dir == "" {
		return nil
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return fmt.Errorf("%w: --profile: %v", ErrUsage, err)
	}
	f, err := os.Create(filepath.Join(p.dir, "cpu.pprof"))
	if err != nil {
		return fmt.Errorf("%w: --profile: %v", ErrUsage, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("--profile: %w", err)
	}
	p.cpu = f
	return nil
}

// stop ends the CPU profile and writes the heap profile; it does nothing when none was started.
func (p *profiler) stop() error {
	if p.cpu == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := p.cpu.Close()
	p.cpu = nil
	f, cerr := os.Create(filepath.Join(p.dir, "heap.pprof"))
	if cerr != nil {
		return errors.Join(err, fmt.Errorf("--profile: %w", cerr))
	}
	runtime.GC() // the heap profile shows live objects as of the last collection
	err = errors.Join(err, pprof.WriteHeapProfile(f), f.Close())
	if err != nil {
		return fmt.Errorf("--profile: %w", err)
	}
	return nil
}
