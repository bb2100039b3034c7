package broken

import "testing"

func TestBroken(t *testing.T) {
	var unused int
	undefinedCall()
}
