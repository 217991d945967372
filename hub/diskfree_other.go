//go:build !unix && !windows

package hub

// freeBytes is unknown on this system.
func freeBytes(string) (int64, bool) { return 0, false }
