package runtime

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

func TestSignalFromExitCode(t *testing.T) {
	for _, tc := range []struct {
		code int
		want syscall.Signal
	}{
		{0, 0},
		{1, 0},
		{126, 0},
		{128, 0},
		{129, syscall.SIGHUP},
		{130, syscall.SIGINT},
		{137, syscall.SIGKILL},
		{143, syscall.SIGTERM},
		{192, 64},
		{193, 0},
		{255, 0},
		{-1, 0},
	} {
		if got := SignalFromExitCode(tc.code); got != tc.want {
			t.Errorf("SignalFromExitCode(%d) = %d, want %d", tc.code, got, tc.want)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	ok := Spec{Image: "app:1", RunID: "r-1.x_y", Role: "old"}
	for _, tc := range []struct {
		name string
		edit func(*Spec)
		want []string // substrings of the error; none = valid
	}{
		{"minimal", func(*Spec) {}, nil},
		{"everything", func(s *Spec) {
			s.Ports = []int{1, 8080, 65535}
			s.Tmpfs = map[string]string{"/tmp": "size=1m", "/run/x": ""}
			s.Memory, s.CPUs, s.CPUShares = 64<<20, 0.5, 512
			s.Labels = map[string]string{"com.example": "x", "plimsollx": "y"}
		}, nil},
		{"no image", func(s *Spec) { s.Image = "" }, []string{"no image"}},
		{"no run id", func(s *Spec) { s.RunID = "" }, []string{`run id ""`}},
		{"run id with slash", func(s *Spec) { s.RunID = "a/b" }, []string{`run id "a/b"`}},
		{"run id starting with dash", func(s *Spec) { s.RunID = "-a" }, []string{`run id "-a"`}},
		{"run id too long", func(s *Spec) { s.RunID = strings.Repeat("a", 65) }, []string{"run id"}},
		{"role with space", func(s *Spec) { s.Role = "o ld" }, []string{`role "o ld"`}},
		{"ports", func(s *Spec) { s.Ports = []int{0, 80, 80, 65536} }, []string{"port 0 out of range", "port 80 listed twice", "port 65536 out of range"}},
		{"tmpfs", func(s *Spec) { s.Tmpfs = map[string]string{"tmp": "", "/": ""} }, []string{`tmpfs path "/"`, `tmpfs path "tmp"`}},
		{"negative limits", func(s *Spec) { s.Memory, s.CPUs, s.CPUShares = -1, -0.5, -2 }, []string{"memory -1", "cpus -0.5", "cpu shares -2"}},
		{"reserved label", func(s *Spec) { s.Labels = map[string]string{LabelRun: "x", "plimsoll.other": "y"} }, []string{`label "plimsoll.other"`, `label "plimsoll.run"`}},
		{"every problem at once", func(s *Spec) { *s = Spec{Ports: []int{-1}} }, []string{"no image", "run id", "role", "port -1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.edit(&s)
			err := s.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Validate() = %v, want ErrInvalidSpec", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
		})
	}
}
