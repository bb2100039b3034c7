package smoke

import "time"

// SetRequestTimeout shortens the request timeout, so a test of the timeout rule need not wait
// RequestTimeout.
func SetRequestTimeout(s *Session, d time.Duration) { s.requestTimeout = d }
