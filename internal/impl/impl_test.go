package impl

import "testing"

// TestSelect checks registration, selection, restore and the errors for
// unknown or unsupported implementations.
func TestSelect(t *testing.T) {
	a, b := true, false
	Register("impltest", "A", &a)
	Register("impltest", "B", &b)
	if got := List("impltest"); len(got) != 2 || !got[0].Available || got[1].Available {
		t.Fatalf("List = %+v", got)
	}
	restore, err := Select("impltest")
	if err != nil || a || b {
		t.Fatalf("Select none: err %v, toggles %v %v", err, a, b)
	}
	restore()
	if !a || b {
		t.Fatalf("restore: toggles %v %v", a, b)
	}
	if _, err := Select("impltest", "B"); err == nil {
		t.Error("selecting an unsupported implementation: no error")
	}
	if _, err := Select("impltest", "C"); err == nil {
		t.Error("selecting an unknown implementation: no error")
	}
	vs := Variants("impltest")
	if len(vs) != 2 || vs[0].Name != "generic" || vs[1].Name != "A" {
		t.Fatalf("Variants = %+v", vs)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering twice did not panic")
		}
	}()
	Register("impltest", "A", &a)
}
