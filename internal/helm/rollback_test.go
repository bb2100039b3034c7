package helm

import (
	"errors"
	"testing"

	"helm.sh/helm/v3/pkg/release"
)

func TestRollbackTarget(t *testing.T) {
	hist := func(statuses ...release.Status) []*release.Release {
		out := make([]*release.Release, len(statuses))
		for i, s := range statuses {
			out[i] = &release.Release{Version: i + 1, Info: &release.Info{Status: s}}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		rels []*release.Release
		to   int
		want int // 0: ErrNoTarget
	}{
		{"previous, as helm", hist(release.StatusSuperseded, release.StatusSuperseded, release.StatusDeployed), 0, 2},
		{"after a failed upgrade, the deployed one", hist(release.StatusSuperseded, release.StatusDeployed, release.StatusFailed), 0, 2},
		{"past a failed revision (helm would take it)", hist(release.StatusSuperseded, release.StatusFailed, release.StatusDeployed), 0, 1},
		{"stuck in pending-upgrade", hist(release.StatusDeployed, release.StatusPendingUpgrade), 0, 1},
		{"a revision given is taken as it is", hist(release.StatusSuperseded, release.StatusFailed, release.StatusDeployed), 2, 2},
		{"an unknown revision", hist(release.StatusSuperseded, release.StatusDeployed), 7, 0},
		{"no history", hist(release.StatusDeployed), 0, 0},
		{"nothing before was deployed", hist(release.StatusFailed, release.StatusFailed, release.StatusDeployed), 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rollbackTarget(tc.rels, tc.to)
			switch {
			case tc.want == 0 && !errors.Is(err, ErrNoTarget):
				t.Errorf("err = %v, want ErrNoTarget", err)
			case tc.want != 0 && (err != nil || got.Version != tc.want):
				t.Errorf("got %v, %v; want revision %d", got, err, tc.want)
			}
		})
	}
}
