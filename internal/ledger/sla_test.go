package ledger

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plimsoll/plimsoll/internal/inventory"
	"github.com/plimsoll/plimsoll/internal/report"
	"github.com/plimsoll/plimsoll/internal/scan"
	"github.com/plimsoll/plimsoll/internal/store"
)

// TestOpenPatches: on the 3rd at noon (the injected clock), alpine 3.19.4 (critical, seen on the
// 1st, due in a day) is open in two references, 36 hours past its SLA; debian 12.9 (high, seen
// on the 2nd, due in 7 days) is open but not late; debian 12.8 was declined, 3.19.2 fixes
// nothing with an SLA, and a reference already on 3.19.4 waits for nothing.
func TestOpenPatches(t *testing.T) {
	seen := func(image, from, to, digest string, at time.Time, sev scan.Severity) store.PatchEvent {
		e := ev(store.PatchSeen, image, to, digest, at, sev)
		e.FromRef = from
		return e
	}
	events := []store.PatchEvent{
		seen(alpine, alpine+":3.19.1@"+d0, "3.19.4", d1, day(1), scan.Critical),
		seen(alpine, alpine+":3.19.1@"+d0, "3.19.2", d2, day(2), scan.Negligible), // no SLA: not reported
		seen(debian, debian+":12.7@"+d0, "12.9", d3, day(2), scan.High),
		seen(debian, debian+":12.7@"+d0, "12.8", d4, day(2), scan.Critical),
		ev(store.PatchException, debian, "12.8", d4, day(2), scan.Critical),
	}
	refs := []inventory.Ref{
		{File: "api/Dockerfile", Line: 1, Name: alpine, Tag: "3.19.1", Digest: d0},
		{File: "jobs/Dockerfile", Line: 3, Name: alpine, Tag: "3.19.1", Digest: d0},
		{File: "web/Dockerfile", Line: 1, Name: alpine, Tag: "3.19.4", Digest: d1},
		{File: "db/compose.yaml", Line: 4, Name: debian, Tag: "12.7", Floats: true},
	}
	owners := map[string][]string{"api/Dockerfile": {"@org/api"}, "db/compose.yaml": {"@org/data", "@carol"}}
	sla := map[scan.Severity]time.Duration{scan.Critical: 24 * time.Hour, scan.High: 7 * 24 * time.Hour}
	in := Input{Events: events, Refs: refs, Now: day(3).Add(12 * time.Hour), SLA: sla,
		Owner: func(f string) []string { return owners[f] }}
	r := Compute(in)
	want := []OwnerLoad{
		{Owner: NoOwner, Severity: scan.Critical, Open: 1, Breaches: 1, MostLate: report.Duration(36 * time.Hour)},
		{Owner: "@org/api", Severity: scan.Critical, Open: 1, Breaches: 1, MostLate: report.Duration(36 * time.Hour)},
		{Owner: "@org/data @carol", Severity: scan.High, Open: 1},
	}
	if d := cmp.Diff(want, r.ByOwner); d != "" {
		t.Errorf("by owner (-want +got):\n%s", d)
	}
	if len(r.Open) != 3 || r.Open[0].Due != day(2) || r.Open[2].ToRef != debian+":12.9" || r.Open[2].Late != 0 {
		t.Errorf("open: %+v", r.Open)
	}
	var buf bytes.Buffer
	if err := Write(&buf, r, "text"); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Open patches by owner and severity", "SLA breaches", "api/Dockerfile:1", "1d 12h"} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("text lacks %q:\n%s", w, buf.String())
		}
	}
	// Without an SLA nothing of it is reported (and the golden files stay as they were).
	in.SLA = nil
	if r := Compute(in); r.Open != nil || r.ByOwner != nil || len(r.Sections()) != 4 {
		t.Errorf("without an SLA: open %v, by owner %v, %d sections", r.Open, r.ByOwner, len(r.Sections()))
	}
}
