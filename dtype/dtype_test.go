package dtype

import "testing"

// TestTable checks block geometry against ggml's block structs (ggml-common.h)
// for the types dseek computes with, and the name round trip.
func TestTable(t *testing.T) {
	cases := []struct {
		t            Type
		block, bytes int
	}{
		{F32, 1, 4}, {F16, 1, 2}, {BF16, 1, 2},
		{Q4_0, 32, 18}, {Q4_1, 32, 20}, {Q5_0, 32, 22}, {Q5_1, 32, 24}, {Q8_0, 32, 34}, {Q8_1, 32, 36},
		{Q2_K, 256, 84}, {Q3_K, 256, 110}, {Q4_K, 256, 144}, {Q5_K, 256, 176}, {Q6_K, 256, 210}, {Q8_K, 256, 292},
		{IQ4_NL, 32, 18}, {IQ4_XS, 256, 136},
	}
	for _, c := range cases {
		if c.t.BlockSize() != c.block || c.t.BlockBytes() != c.bytes {
			t.Errorf("%v: block %d/%d bytes, want %d/%d", c.t, c.t.BlockSize(), c.t.BlockBytes(), c.block, c.bytes)
		}
		p, err := Parse(c.t.String())
		if err != nil || p != c.t {
			t.Errorf("Parse(%q) = %v, %v", c.t.String(), p, err)
		}
	}
	if n, err := Q4_K.RowBytes(512); err != nil || n != 288 {
		t.Errorf("Q4_K row of 512 = %d, %v", n, err)
	}
	if _, err := Q4_K.RowBytes(100); err == nil {
		t.Error("Q4_K row of 100 elements accepted")
	}
	if _, err := Type(999).RowBytes(32); err == nil || Type(999).Known() {
		t.Error("unknown type accepted")
	}
	if _, err := Parse("q9_9"); err == nil {
		t.Error("Parse of an unknown name succeeded")
	}
	if Type(999).String() != "type(999)" {
		t.Errorf("unknown type prints %q", Type(999).String())
	}
}
