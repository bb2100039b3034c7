package check

import (
	"encoding/json"
	"testing"
)

func TestWorst(t *testing.T) {
	tests := []struct {
		in   []Status
		want Status
	}{
		{nil, StatusPass},
		{[]Status{StatusPass, StatusSkipped}, StatusSkipped},
		{[]Status{StatusWarn, StatusPass}, StatusWarn},
		{[]Status{StatusWarn, StatusInconclusive, StatusPass}, StatusInconclusive},
		{[]Status{StatusError, StatusWarn}, StatusError},
		{[]Status{StatusError, StatusFail, StatusWarn}, StatusFail},
	}
	for _, tt := range tests {
		if got := Worst(tt.in...); got != tt.want {
			t.Errorf("Worst(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestStatusText(t *testing.T) {
	for s := StatusPass; s <= StatusFail; s++ {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Status
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%v round-trips to %v, %v", s, back, err)
		}
	}
	var s Status
	if err := s.UnmarshalText([]byte("great")); err == nil {
		t.Error("an unknown status was accepted")
	}
	if got := Status(42).String(); got != "status(42)" {
		t.Errorf("String of an unknown status = %q", got)
	}
	b, _ := json.Marshal(Result{Layer: L5Harden, Check: "user", Status: StatusFail})
	if want := `{"layer":5,"check":"user","status":"fail","message":""}`; string(b) != want {
		t.Errorf("json = %s, want %s", b, want)
	}
}

func TestParseLayer(t *testing.T) {
	good := map[string]Layer{"1": L1Diff, "L2": L2Smoke, "l3": L3Functional, "perf": L4Perf, " Harden ": L5Harden, "soak": L6Soak}
	for in, want := range good {
		if got, err := ParseLayer(in); err != nil || got != want {
			t.Errorf("ParseLayer(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "7", "L", "lint", "-1"} {
		if _, err := ParseLayer(in); err == nil {
			t.Errorf("ParseLayer(%q) accepted", in)
		}
	}
	if L4Perf.String() != "L4 perf" || Layer(9).Name() != "layer9" {
		t.Errorf("names: %q %q", L4Perf, Layer(9).Name())
	}
}
