package chat

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestHostileTemplates: templates that would overflow the stack, exhaust
// memory or loop for hours are refused or stopped with ErrTemplateRejected
// instead of taking the process down (found by adversarial testing).
func TestHostileTemplates(t *testing.T) {
	compileTime := map[string]string{
		"recursive macro":  `{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}`,
		"mutual recursion": `{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}`,
		"huge repeat":      `{{ 'x' * 100000000000 }}`,
		"huge float":       `{% for i in range(1e8) %}x{% endfor %}`,
	}
	for name, src := range compileTime {
		if _, err := NewJinja(src); !errors.Is(err, ErrTemplateRejected) {
			t.Errorf("%s: NewJinja error = %v, want ErrTemplateRejected", name, err)
		}
	}
	// Built at render time from small literals: range() refuses the size.
	tpl, err := NewJinja(`{% set n = 1000 * 1000 %}{% for i in range(n) %}{% for j in range(n) %}x{% endfor %}{% endfor %}`)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = tpl.Render([]Message{{Role: "user", Content: "hi"}}, RenderOptions{})
	if !errors.Is(err, ErrTemplateRejected) {
		t.Fatalf("nested huge loops: err = %v, want ErrTemplateRejected", err)
	}
	if d := time.Since(start); d > time.Minute {
		t.Fatalf("refusal took %v", d)
	}
	// Legitimate templates with numbers in text and small literals still work.
	ok := `{% for m in messages %}{{ m['content'][:100] }}{% endfor %} year 2024000 {{ range(3) | length }}`
	tpl, err = NewJinja(ok)
	if err != nil {
		t.Fatal(err)
	}
	out, err := tpl.Render([]Message{{Role: "user", Content: "hi"}}, RenderOptions{})
	if err != nil || !strings.Contains(out, "hi") || !strings.Contains(out, "3") {
		t.Fatalf("benign template: %q, %v", out, err)
	}
}
