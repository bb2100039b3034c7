package inventory

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestRetarget(t *testing.T) {
	dir := t.TempDir()
	df := filepath.Join(dir, "Dockerfile")
	const d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	const d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	if err := os.WriteFile(df, []byte("FROM reg.example/base/alpine:3.19.1@"+d1+" AS build\nFROM ${X}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	refs, _, err := Find(context.Background(), []string{dir})
	if err != nil || len(refs) != 1 {
		t.Fatalf("Find = %+v, %v", refs, err)
	}
	if _, err := Retarget(refs[0], "3.19.4", "sha256:nope"); err == nil {
		t.Error("retargeted to a bad digest")
	}
	e, err := Retarget(refs[0], "3.19.4", d2)
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply([]Edit{e}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(df)
	if want := "FROM reg.example/base/alpine:3.19.4@" + d2 + " AS build\nFROM ${X}\n"; string(got) != want {
		t.Errorf("after Retarget:\n%s\nwant\n%s", got, want)
	}
	if _, err := Retarget(Ref{Raw: "x", Name: "x"}, "1", d2); !errors.Is(err, ErrUnpinnable) {
		t.Errorf("no site: %v, want ErrUnpinnable", err)
	}
}
