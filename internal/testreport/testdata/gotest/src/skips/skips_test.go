package skips

import "testing"

func TestTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		skip bool
		fail bool
	}{
		{"plain", false, false}, {"needs docker", true, false}, {"broken row", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip {
				t.Skip("no docker here")
			}
			if tc.fail {
				t.Errorf("got 2, want 3")
			}
		})
	}
}

func TestParallel(t *testing.T) {
	for _, n := range []string{"a", "b"} {
		t.Run(n, func(t *testing.T) { t.Parallel() })
	}
}
