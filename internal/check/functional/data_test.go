package functional

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/plimsoll/plimsoll/internal/config"
)

// TestDataJSONIsCompact: summary.json holds each test that changed once, with its OLD and NEW
// outcome, and counts the unchanged ones: far smaller than the two reports, not four copies.
func TestDataJSONIsCompact(t *testing.T) {
	old, cand := bigJUnit(2000, 7), bigJUnit(2000, 7, 500)
	res, err := runFake(context.Background(), config.Functional{}, old, cand)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(res.Data)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > (len(old)+len(cand))/10 {
		t.Errorf("data is %d bytes for reports of %d and %d bytes", len(b), len(old), len(cand))
	}
	if n := strings.Count(string(b), `shouldHandleCase000500"`); n != 1 {
		t.Errorf("the regressed test is written %d times, want once", n)
	}
	var got struct {
		Old, New  struct{ Tests, Failed int }
		Counts    map[string]int
		Unchanged int
		Cases     []struct {
			ID, Change string
			Old, New   struct{ Outcome string }
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Old.Tests != 2000 || got.New.Tests != 2000 || got.New.Failed != 2 || got.Unchanged != 1998 || got.Counts["unchanged"] != 1998 {
		t.Errorf("sides %+v %+v, unchanged %d, counts %v", got.Old, got.New, got.Unchanged, got.Counts)
	}
	if len(got.Cases) != 2 {
		t.Fatalf("cases %+v, want the pre-existing failure and the regression", got.Cases)
	}
	for _, c := range got.Cases {
		switch {
		case strings.HasSuffix(c.ID, "shouldHandleCase000500") && c.Change == "regression" && c.Old.Outcome == "passed" && c.New.Outcome == "failed":
		case strings.HasSuffix(c.ID, "shouldHandleCase000007") && c.Change == "pre-existing" && c.Old.Outcome == "failed" && c.New.Outcome == "failed":
		default:
			t.Errorf("case %+v", c)
		}
	}
}
