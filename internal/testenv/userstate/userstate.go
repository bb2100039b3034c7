// Package userstate keeps tests that run the plimsoll binary out of the user's own run history:
// it points the binary's state directory at a temporary one and checks afterwards that the
// user's default store and soak state were left alone. It is apart from testenv, which packages
// under the store import.
package userstate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/plimsoll/plimsoll/internal/store/sqlite"
)

// Isolate makes every plimsoll this test process runs keep its state (the run history, soak
// resume files) under dir instead of the user's own: it sets $XDG_STATE_HOME and unsets
// $PLIMSOLL_STORE. Call it in TestMain before m.Run, and call verify after: it reports an error
// when the tests created or changed the user's own default store or soak state all the same.
func Isolate(dir string) (verify func() error, err error) {
	db, err := sqlite.DefaultPath()
	if err != nil {
		return nil, err
	}
	watched := []string{db, db + "-wal", filepath.Join(filepath.Dir(db), "soak")}
	before := make([]fileStamp, len(watched))
	for i, p := range watched {
		before[i] = stampOf(p)
	}
	if err := os.Setenv("XDG_STATE_HOME", dir); err != nil {
		return nil, err
	}
	if err := os.Unsetenv("PLIMSOLL_STORE"); err != nil {
		return nil, err
	}
	return func() error {
		var errs []error
		for i, p := range watched {
			if now := stampOf(p); now != before[i] {
				errs = append(errs, fmt.Errorf("the tests changed the user's own %s (%s → %s): a test runs plimsoll without its own state directory", p, before[i], now))
			}
		}
		return errors.Join(errs...)
	}, nil
}

// fileStamp is what shows that a file or directory was created or written.
type fileStamp struct {
	exists bool
	size   int64
	mod    time.Time
}

func (s fileStamp) String() string {
	if !s.exists {
		return "absent"
	}
	return fmt.Sprintf("%d bytes, modified %s", s.size, s.mod.Format(time.RFC3339Nano))
}

func stampOf(path string) fileStamp {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) || err != nil {
		return fileStamp{}
	}
	return fileStamp{exists: true, size: st.Size(), mod: st.ModTime()}
}
