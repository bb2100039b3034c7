package mainexit

import (
	"fmt"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		fmt.Println("leaked goroutines after the tests: 3")
		code = 1
	}
	os.Exit(code)
}

func TestOne(t *testing.T) {}
