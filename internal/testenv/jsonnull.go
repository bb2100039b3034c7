package testenv

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
)

// JSONNulls returns the paths ("$.layers[0].results[1].data.removed") of the nulls in the JSON
// document doc, leaving out the paths in allowed. summary.json promises lists, never null: a
// nil Go slice is the usual way a null gets in.
func JSONNulls(doc []byte, allowed ...string) ([]string, error) {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	var out []string
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch v := v.(type) {
		case nil:
			if !slices.Contains(allowed, path) {
				out = append(out, path)
			}
		case map[string]any:
			for k, e := range v {
				walk(e, path+"."+k)
			}
		case []any:
			for i, e := range v {
				walk(e, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	walk(v, "$")
	sort.Strings(out)
	return out, nil
}
