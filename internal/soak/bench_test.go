package soak

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/image"
	"github.com/plimsoll/plimsoll/internal/launch"
	"github.com/plimsoll/plimsoll/internal/runtime/docker"
	"github.com/plimsoll/plimsoll/internal/testenv"
)

// BenchmarkSampleOverhead measures what one sample of one running image costs this process in
// CPU time (user + system, from getrusage): cgroup, /proc, one health probe and the log read.
// It reports the CPU per sample and the share of one core that sampling every 60 s takes (the
// goal is under 1 %); the engine's own work answering the log and inspect calls is not in it.
//
//	go test ./internal/soak -run '^$' -bench SampleOverhead -benchtime 200x
func BenchmarkSampleOverhead(b *testing.B) {
	testenv.Docker(b)
	ctx := context.Background()
	rt, err := docker.New(ctx, docker.WithStopGrace(time.Second))
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	v1img := testenv.TestAppImage(b, testenv.TestAppOptions{})
	d, _ := v1img.Digest()
	cf, _ := v1img.ConfigFile()
	img := &image.Image{Ref: "testapp:bench", Digest: d, Img: v1img, Config: cf}
	app := config.App{Health: config.Health{HTTP: "/healthz"}}
	a, err := launch.Start(ctx, rt, rt, img, app, launch.Options{RunID: testenv.NewRunID("soakbench"), Role: "soak-new"})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = a.Instance.Stop(context.WithoutCancel(ctx)) }()
	if _, err := a.WaitHealthy(ctx, app.Health); err != nil {
		b.Fatal(err)
	}
	s, err := newSampler(ctx, "new", a.Instance, a.Endpoint, "/healthz", 200, 5*time.Second, nil)
	if err != nil {
		b.Fatal(err)
	}
	if p := s.sample(ctx, time.Now()); !p.statsOK || !p.procOK || !p.HealthOK {
		b.Fatalf("sample incomplete: %+v", p)
	}
	before := cpuTime()
	b.ResetTimer()
	for range b.N {
		s.sample(ctx, time.Now())
	}
	b.StopTimer()
	per := (cpuTime() - before) / time.Duration(b.N)
	b.ReportMetric(float64(per.Microseconds()), "cpu-µs/sample")
	b.ReportMetric(100*per.Seconds()/60, "%core@60s")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
