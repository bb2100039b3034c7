package perf_test

import (
	"log/slog"
	"testing"
)

// testLogger writes the layer's logs to the test's log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tlog struct{ t testing.TB }

func (w tlog) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }
