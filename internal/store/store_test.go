package store

import "testing"

func TestRepository(t *testing.T) {
	tests := []struct{ ref, want string }{
		{"alpine", "alpine"},
		{"alpine:3.20", "alpine"},
		{"registry.example.com/shop/api:1.4.2", "registry.example.com/shop/api"},
		{"registry.example.com:5000/shop/api", "registry.example.com:5000/shop/api"},
		{"registry.example.com:5000/shop/api:1.0", "registry.example.com:5000/shop/api"},
		{"registry.example.com:5000/shop/api@sha256:abcd", "registry.example.com:5000/shop/api"},
		{"shop/api:1.0@sha256:abcd", "shop/api"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := Repository(tc.ref); got != tc.want {
			t.Errorf("Repository(%q) = %q, want %q", tc.ref, got, tc.want)
		}
	}
}
