package auth

import "time"

// SetClock makes c read the time from now (tests of the refresh margin).
func (c *ClientCredentials) SetClock(now func() time.Time) { c.now = now }
