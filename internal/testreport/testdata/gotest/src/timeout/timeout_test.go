package timeout

import (
	"testing"
	"time"
)

func TestQuick(t *testing.T) {}

func TestSlow(t *testing.T) {
	t.Log("waiting for a server that never answers")
	time.Sleep(time.Minute)
}
