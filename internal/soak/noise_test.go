package soak_test

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/soak"
	"github.com/plimsoll/plimsoll/internal/testenv"
	"github.com/plimsoll/plimsoll/internal/testenv/enginetest"
)

var noise = flag.Bool("noise", false, "measure the memory noise of apps that do not leak (TestMemoryNoise)")

// TestMemoryNoise soaks apps that do not leak (the test app serving, and its GC sawtooth) with
// no noise floor and logs what the memory judge made of them: the figures behind the default
// of soak.limits.memoryNoiseFloor. It does not run by default:
//
//	go test ./internal/soak -run TestMemoryNoise -count=1 -v -args -noise
func TestMemoryNoise(t *testing.T) {
	if !*noise {
		t.Skip("a measurement: run with -args -noise")
	}
	rt := enginetest.Runtime(t)
	sp := config.Soak{Duration: 30 * time.Second, Interval: time.Second, Warmup: 6 * time.Second,
		Limits: config.SoakLimits{MemoryNoiseFloor: "0"}}
	for _, mode := range []string{"ok", "sawtooth"} {
		for i := range 3 {
			t.Run(fmt.Sprintf("%s-%d", mode, i), func(t *testing.T) {
				img := enginetest.Image(t, "testapp:noise-"+mode, testenv.TestAppImage(t, testenv.TestAppOptions{Env: []string{"TESTAPP_MODE=" + mode}}))
				out, err := soak.Run(t.Context(), soak.Options{RunID: testenv.NewRunID("noise"), New: img, App: testApp, Soak: sp,
					Runtime: rt, Loader: rt})
				if err != nil {
					t.Fatal(err)
				}
				m := out.Analyses["new"].Memory
				t.Logf("%s: %s %q; %s", mode, m.Status, m.Message, m.Measured)
			})
		}
	}
}
