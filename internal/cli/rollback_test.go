package cli

import (
	"errors"
	"testing"
)

func TestRollbackAndDrillUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"rollback"}, {"rollback", "pod/a"}, {"rollback", "deploy/a", "deploy/"}, {"rollback", "deploy/a", "--to-revision", "-1"},
		{"rollback", "deploy/a", "--timeout", "0s"}, {"rollback", "deploy/a", "--to-revision", "two"},
		{"drill"}, {"drill", "deploy/a"}, {"drill", "deploy/a", "deploy/b", "--image", "x"}, {"drill", "svc/a", "--image", "x"},
		{"drill", "deploy/a", "--image", "x", "--timeout", "-1s"},
		{"rollback", "deploy/a", "--fallback", "maybe"}, {"rollback", "deploy/a", "--mirror", "=mirror:5000"},
	} {
		// usage is checked before any cluster is contacted: no kubeconfig is needed
		_, _, err := execute(t, append(args, "--kubeconfig", "/nonexistent")...)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
	}
}
