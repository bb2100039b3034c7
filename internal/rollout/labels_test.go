package rollout

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestCanaryLabels(t *testing.T) {
	long := strings.Repeat("a", 60)
	tests := []struct {
		name    string
		in      map[string]string
		want    map[string]string
		wantErr error
	}{
		{"nil", nil, nil, nil},
		{"suffixed", map[string]string{"app": "shop", "tier": "web"}, map[string]string{"app": "shop-canary", "tier": "web-canary"}, nil},
		{"already canary", map[string]string{"app": "shop-canary"}, map[string]string{"app": "shop-canary"}, nil},
		{"too long for a label", map[string]string{"app": long}, nil, ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := canaryLabels(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !maps.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGreen(t *testing.T) {
	tests := []struct {
		sel  map[string]string
		want bool
	}{
		{map[string]string{"app": "shop"}, false},
		{map[string]string{"app": "shop-canary"}, true},
		{map[string]string{"app": "shop-canary", "tier": "web"}, false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := green(tt.sel); got != tt.want {
			t.Errorf("green(%v) = %v, want %v", tt.sel, got, tt.want)
		}
	}
}

func TestRefWeight(t *testing.T) {
	tests := []struct {
		ref  map[string]any
		want int64
	}{
		{map[string]any{"weight": int64(30)}, 30},
		{map[string]any{"weight": float64(70)}, 70},
		{map[string]any{}, 1}, // Gateway API's default
		{map[string]any{"weight": "x"}, 0},
	}
	for _, tt := range tests {
		if got := refWeight(tt.ref); got != tt.want {
			t.Errorf("refWeight(%v) = %d, want %d", tt.ref, got, tt.want)
		}
	}
}

// FuzzHTTPRouteSplits feeds arbitrary HTTPRoutes (as JSON) to the code that finds the
// backends to split and sets their weights: it must refuse, never panic.
func FuzzHTTPRouteSplits(f *testing.F) {
	for _, s := range []string{
		`{"spec":{"rules":[{"backendRefs":[{"name":"app","port":80}]}]}}`,
		`{"spec":{"rules":[{"backendRefs":[{"name":"app","port":80,"weight":75},{"name":"app-canary","port":80,"weight":25}]}]}}`,
		`{"spec":{"rules":[{"backendRefs":[{"name":"a"},{"name":"b"}]}]}}`,
		`{"spec":{"rules":[{"backendRefs":[{"kind":"Bucket","name":"a"}]}]}}`,
		`{"spec":{"rules":"x"}}`,
		`{"spec":{"rules":[1,{"backendRefs":[2]}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var obj map[string]any
		if json.Unmarshal(data, &obj) != nil || obj == nil {
			return
		}
		route := &unstructured.Unstructured{Object: obj}
		h := &HTTPRoute{Name: "fuzz"}
		rules, sps, err := h.splits(route)
		if err != nil {
			return
		}
		for _, sp := range sps {
			if sp.primary == nil {
				t.Fatal("a split without a primary backend")
			}
			refWeight(sp.primary)
			if sp.canary != nil {
				sp.primary["weight"], sp.canary["weight"] = int64(60), int64(40)
			}
		}
		if err := unstructured.SetNestedSlice(route.Object, rules, "spec", "rules"); err != nil {
			t.Fatalf("writing back the rules: %v", err)
		}
	})
}
