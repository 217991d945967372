// Package impl is a registry of alternative implementations (assembly paths
// chosen by CPU feature) so tests and benchmarks can run each one on the
// machine at hand, after Go's crypto/internal/impl.
//
// A package with a SIMD path registers a *bool toggle for it at init time,
// set to whether the CPU supports it. The toggle is read on every call of the
// dispatching function, so Select can switch paths while a test runs. The
// toggles are the only mutable package state and are changed only by tests
// (Select) through this package; production code never writes them after
// init.
package impl

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Impl is one registered alternative implementation.
type Impl struct {
	Package   string // registering package, e.g. "kernels"
	Name      string // e.g. "AVX2"
	Available bool   // whether the CPU supports it (fixed at registration)
	toggle    *bool
}

var (
	mu    sync.Mutex
	impls []Impl
)

// Register records the implementation name of pkg whose use is controlled by
// *toggle; *toggle must already hold whether the CPU supports it. Registering
// the same pkg/name twice is a programming error and panics.
func Register(pkg, name string, toggle *bool) {
	mu.Lock()
	defer mu.Unlock()
	for _, i := range impls {
		if i.Package == pkg && i.Name == name {
			panic(fmt.Sprintf("impl: %s/%s registered twice", pkg, name))
		}
	}
	impls = append(impls, Impl{Package: pkg, Name: name, Available: *toggle, toggle: toggle})
}

// List returns the implementations registered by pkg, in registration order.
func List(pkg string) []Impl {
	mu.Lock()
	defer mu.Unlock()
	var out []Impl
	for _, i := range impls {
		if i.Package == pkg {
			out = append(out, i)
		}
	}
	return out
}

// Select enables only the named implementations of pkg (an empty list means
// the portable Go code only) and returns a function restoring the previous
// toggles. It returns an error if a name is not registered or its CPU
// support is missing.
func Select(pkg string, names ...string) (restore func(), err error) {
	mu.Lock()
	defer mu.Unlock()
	for _, n := range names {
		ok := false
		for _, i := range impls {
			if i.Package == pkg && i.Name == n {
				if !i.Available {
					return func() {}, fmt.Errorf("impl: %s/%s is not supported by this CPU", pkg, n)
				}
				ok = true
			}
		}
		if !ok {
			return func() {}, fmt.Errorf("impl: %s/%s is not registered", pkg, n)
		}
	}
	saved := make([]bool, len(impls))
	for k, i := range impls {
		saved[k] = *i.toggle
		if i.Package == pkg {
			*i.toggle = slices.Contains(names, i.Name)
		}
	}
	return func() {
		mu.Lock()
		defer mu.Unlock()
		for k, i := range impls {
			*i.toggle = saved[k]
		}
	}, nil
}

// Variants returns the sets of implementation names of pkg worth testing:
// the portable code alone ("generic", an empty set), each available
// implementation alone, and all available ones together (the production
// choice). Each entry is a name for t.Run and the names to Select.
func Variants(pkg string) []Variant {
	out := []Variant{{Name: "generic"}}
	var all []string
	for _, i := range List(pkg) {
		if !i.Available {
			continue
		}
		all = append(all, i.Name)
		out = append(out, Variant{Name: i.Name, Select: []string{i.Name}})
	}
	if len(all) > 1 {
		out = append(out, Variant{Name: strings.Join(all, "+"), Select: all})
	}
	return out
}

// Variant is a named set of implementations to enable together.
type Variant struct {
	Name   string
	Select []string
}
