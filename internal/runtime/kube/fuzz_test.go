package kube

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

// FuzzNumericUser: any input is either a pair of non-negative IDs or an error, never a panic.
func FuzzNumericUser(f *testing.F) {
	for _, s := range []string{"0", "1234:2345", "nobody", "1:staff", ":1", "1:", "-1", "99999999999999999999", "1:2:3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		uid, gid, err := numericUser(s)
		if err != nil {
			return
		}
		if uid == nil || *uid < 0 || (gid != nil && *gid < 0) || (gid == nil) == strings.Contains(s, ":") {
			t.Fatalf("numericUser(%q) = %v, %v", s, uid, gid)
		}
	})
}

// FuzzTmpfsSize: a size found is what Start parses as a quantity, or Start reports it.
func FuzzTmpfsSize(f *testing.F) {
	for _, s := range []string{"size=16m", "mode=1777,size=1g", "size=", "size=k", "size=10%", "mode=1777", "size=2K,size=3m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		size, ok := tmpfsSize(s)
		if !ok {
			return
		}
		_, _ = resource.ParseQuantity(size) // must not panic; an error becomes ErrInvalidSpec
	})
}
