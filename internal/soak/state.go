package soak

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/plimsoll/plimsoll/internal/config"
	"github.com/plimsoll/plimsoll/internal/store/sqlite"
)

// ErrNoState is returned (wrapped) by ReadState for a run that has no resume metadata.
var ErrNoState = errors.New("no soak of that run to resume")

// stateVersion is the version of the State format this plimsoll writes and reads.
const stateVersion = 1

// State is what a killed soak is resumed from: written when the soak starts, and again when
// anything in it changes, atomically, beside the default store.
type State struct {
	Version int    `json:"version"`
	RunID   string `json:"runId"`
	// StartedAt is the origin of the soak's time axis: when both images were healthy.
	StartedAt time.Time `json:"startedAt"`
	// Soak is the soak section the run uses, defaults applied; App is how the app runs.
	Soak config.Soak `json:"soak"`
	App  config.App  `json:"app"`
	// Images are the images soaked, by name ("old", "new").
	Images map[string]StateImage `json:"images"`
	// Containers are the container IDs, and Ports the container ports the app listens on,
	// by name.
	Containers map[string]string `json:"containers"`
	Ports      map[string]int    `json:"ports"`
	// Store is the DSN the samples go to ("" the default store).
	Store string `json:"store"`
	// PID is the plimsoll process that runs the soak now.
	PID int `json:"pid"`
	// Finished is set once the soak ended and was judged.
	Finished bool   `json:"finished"`
	Decision string `json:"decision,omitempty"`
}

// StateImage names one image of a soak.
type StateImage struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
}

// StateDir is where resume metadata is kept: a "soak" folder beside the default SQLite store
// ($XDG_STATE_HOME/plimsoll/soak, else ~/.local/state/plimsoll/soak).
func StateDir() (string, error) {
	db, err := sqlite.DefaultPath()
	if err != nil {
		return "", fmt.Errorf("soak state: %w", err)
	}
	return filepath.Join(filepath.Dir(db), "soak"), nil
}

// StatePath is the file of run runID's resume metadata.
func StatePath(runID string) (string, error) {
	dir, err := StateDir()
	if err != nil {
		return "", err
	}
	if !validRunID(runID) {
		return "", fmt.Errorf("soak state: %q is not a run id", runID)
	}
	return filepath.Join(dir, runID+".json"), nil
}

func validRunID(id string) bool {
	if id == "" || len(id) > 64 || id[0] == '.' || id[0] == '-' {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// WriteState writes st to path atomically: a reader, or a resume after a crash at any moment,
// sees the old file or the new one, never a mixture, and a written file survives a power cut.
func WriteState(path string, st *State) error {
	st.Version = stateVersion
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("soak state: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("soak state: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".state-*")
	if err != nil {
		return fmt.Errorf("soak state: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("soak state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("soak state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("soak state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("soak state: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // the rename itself is durable once the directory is
		d.Close()
	}
	return nil
}

// ReadState reads the resume metadata at path; a missing file is ErrNoState.
func ReadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoState, path)
	}
	if err != nil {
		return nil, fmt.Errorf("soak state: %w", err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("soak state %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("soak state %s: version %d, this plimsoll reads %d", path, st.Version, stateVersion)
	}
	if !validRunID(st.RunID) || st.StartedAt.IsZero() || st.Images["new"].Ref == "" {
		return nil, fmt.Errorf("soak state %s: incomplete", path)
	}
	return &st, nil
}

func (st *State) portOf(name string) int { return st.Ports[name] }
