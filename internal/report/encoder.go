package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Encoder writes a report in one format. Encode writes the whole report or returns an error;
// it never reads the clock or the environment, so the same report always encodes to the same
// bytes. Every encoder treats the strings in a report (image names, package names, messages,
// logs) as untrusted and escapes or strips what could break its format.
type Encoder interface {
	// Format is the encoder's name for --output: "text", "json", "junit", "markdown", "html"
	// or "sarif".
	Format() string
	// Filename is the file WriteDir writes it to: "summary.txt", "summary.json", "junit.xml",
	// "summary.md", "report.html" or "vulnerabilities.sarif".
	Filename() string
	// Encode writes r to w.
	Encode(w io.Writer, r *Report) error
}

// ErrUnknownFormat is returned by Lookup for a format no encoder has.
var ErrUnknownFormat = errors.New("unknown report format")

// ErrNilReport is returned by every encoder asked to encode a nil report.
var ErrNilReport = errors.New("no report to encode")

// Encoders lists every encoder, in the order WriteDir writes them. Text is the plain
// (uncoloured) terminal view.
func Encoders() []Encoder {
	return []Encoder{JSON{}, JUnit{}, Markdown{}, Text{}, HTML{}, SARIF{}}
}

// Lookup returns the encoder of a format ("text", "json", "junit", "markdown", "html", "sarif"). An unknown
// format is an error wrapping ErrUnknownFormat, never a fallback.
func Lookup(format string) (Encoder, error) {
	var names []string
	for _, e := range Encoders() {
		if e.Format() == format {
			return e, nil
		}
		names = append(names, e.Format())
	}
	return nil, fmt.Errorf("%w %q: use one of %s", ErrUnknownFormat, format, strings.Join(names, ", "))
}

// WriteDir writes r in every format of Encoders into dir (created if missing), one file each
// (summary.json, junit.xml, summary.md, summary.txt, report.html, vulnerabilities.sarif). Each file is encoded in memory first and
// then written atomically: to a temporary file in dir, renamed over the final name, so a reader
// never sees a half-written report. It returns the paths written, in order; on error, the
// paths written before it.
func WriteDir(dir string, r *Report) ([]string, error) {
	if r == nil {
		return nil, ErrNilReport
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report directory: %w", err)
	}
	var written []string
	for _, e := range Encoders() {
		var buf bytes.Buffer
		if err := e.Encode(&buf, r); err != nil {
			return written, fmt.Errorf("encode %s: %w", e.Filename(), err)
		}
		path := filepath.Join(dir, e.Filename())
		if err := writeAtomic(path, buf.Bytes()); err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}

// writeAtomic writes b to path through a temporary file in the same directory and a rename.
func writeAtomic(path string, b []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
