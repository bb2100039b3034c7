package perf

import (
	"testing"
)

func TestParseGC(t *testing.T) {
	tests := []struct {
		name, in string
		want     gcTotals
	}{
		{name: "go", in: `# HELP go_gc_duration_seconds A summary.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 1e-05
go_gc_duration_seconds{quantile="1"} 0.0002
go_gc_duration_seconds_sum 0.0015
go_gc_duration_seconds_count 12
process_open_fds 9
`, want: gcTotals{Name: "go_gc_duration_seconds", Sum: 0.0015, Count: 12}},
		{name: "jvm labels are added up", in: `jvm_gc_pause_seconds_count{action="end of minor GC",cause="G1 Evacuation Pause"} 4 1700000000000
jvm_gc_pause_seconds_sum{action="end of minor GC",cause="G1 Evacuation Pause"} 0.02
jvm_gc_pause_seconds_count{action="end of major GC",cause="System.gc()"} 1
jvm_gc_pause_seconds_sum{action="end of major GC",cause="System.gc()"} 0.03
`, want: gcTotals{Name: "jvm_gc_pause_seconds", Sum: 0.05, Count: 5}},
		{name: "node", in: "nodejs_gc_duration_seconds_sum{kind=\"minor\"} 0.5\nnodejs_gc_duration_seconds_count{kind=\"minor\"} 50\n",
			want: gcTotals{Name: "nodejs_gc_duration_seconds", Sum: 0.5, Count: 50}},
		{name: "label value with a brace", in: `go_gc_duration_seconds_count{x="a}b"} 3`,
			want: gcTotals{Name: "go_gc_duration_seconds", Count: 3}},
		{name: "garbage and bad numbers are ignored", in: "go_gc_duration_seconds_sum NaN\ngo_gc_duration_seconds_count -1\n{}\n\x00\ngo_gc_duration_seconds_count{ 2\n",
			want: gcTotals{}},
		{name: "none", in: "http_requests_total 3\n", want: gcTotals{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseGC([]byte(tt.in)); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseGC(f *testing.F) {
	f.Add([]byte("go_gc_duration_seconds_sum 0.0015\ngo_gc_duration_seconds_count 12\n"))
	f.Add([]byte(`jvm_gc_pause_seconds_count{action="x",cause="y"} 4 17`))
	f.Add([]byte("nodejs_gc_duration_seconds_sum{kind=\"}\"} 1e308\n# c\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g := parseGC(b)
		if g.Sum < 0 || g.Count < 0 || (g.Name == "" && (g.Sum != 0 || g.Count != 0)) {
			t.Fatalf("parseGC = %+v", g)
		}
	})
}
