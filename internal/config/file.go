package config

import (
	"context"
	"fmt"
	"io"
	"os"
)

// MaxFileBytes is the largest policy (or fleet) file plimsoll reads: 4 MiB, room for a
// vulnerabilities.ignore list of some 100,000 IDs, and small enough that a file of another kind
// named by mistake is refused at once instead of being decoded into gigabytes of memory.
const MaxFileBytes = 4 << 20

// ErrTooLarge: the file is larger than MaxFileBytes. It wraps ErrInvalid.
var ErrTooLarge = fmt.Errorf("%w: file too large", ErrInvalid)

// ReadFile reads the configuration file at path (what names its kind in errors: "policy",
// "fleet"), refusing one larger than MaxFileBytes with one line. It reads no more than that,
// whatever the file claims.
func ReadFile(ctx context.Context, path, what string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > MaxFileBytes {
		return nil, tooLarge(path, what, st.Size())
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if len(b) > MaxFileBytes {
		return nil, tooLarge(path, what, -1)
	}
	return b, nil
}

func tooLarge(path, what string, size int64) error {
	if size < 0 {
		return fmt.Errorf("%w: %s %s is more than %d MiB, the most a %s file may have", ErrTooLarge, what, path, MaxFileBytes>>20, what)
	}
	return fmt.Errorf("%w: %s %s is %.1f MiB, more than the %d MiB a %s file may have", ErrTooLarge, what, path, float64(size)/(1<<20), MaxFileBytes>>20, what)
}
