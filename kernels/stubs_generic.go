//go:build !amd64 || noasm

package kernels

// Without assembly every dispatching function is its portable Go twin.

func quantQ8Blocks(x []float32, dst []byte, withSum bool) { quantQ8BlocksGo(x, dst, withSum) }

func quantQ8K(x []float32, dst []byte) { quantQ8KGo(x, dst) }

func roundF16Row(x, dst []float32) { roundF16RowGo(x, dst) }

func spinPause() {}

func dot(a, b []float32) float32 { return dotGo(a, b) }

func axpy(alpha float32, x, y []float32) { axpyGo(alpha, x, y) }

func sumBytes(buf []byte) uint64 { return sumBytesGo(buf) }

func swiglu(out, gate, up []float32) { swigluGo(out, gate, up) }

func expSum(x []float32, m float32) float64 { return expSumGo(x, m) }

func f16ToF32Row(dst []float32, src []uint16) { f16ToF32RowGo(dst, src) }

func f32ToF16Row(dst []uint16, src []float32) { f32ToF16RowGo(dst, src) }

func sumSquares(x []float32) float64 { return sumSquaresGo(x) }

func scaleMul(y, x, w []float32, s float32) { scaleMulGo(y, x, w, s) }
