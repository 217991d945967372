//go:build !unix

package quantize

// dropPages is a no-op where models are not memory-mapped.
func dropPages([]byte) {}
