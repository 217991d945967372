package sampler

import (
	"math"
	"slices"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestLogSoftmax(t *testing.T) {
	// softmax([0, ln 3]) = [0.25, 0.75].
	got := LogSoftmax(nil, []float32{0, float32(math.Log(3))})
	if !near(float64(got[0]), math.Log(0.25), 1e-6) || !near(float64(got[1]), math.Log(0.75), 1e-6) {
		t.Fatalf("LogSoftmax = %v", got)
	}
	// Large logits must not overflow: softmax([1000, 1000]) = [0.5, 0.5].
	got = LogSoftmax(got, []float32{1000, 1000})
	if !near(float64(got[0]), math.Log(0.5), 1e-6) {
		t.Fatalf("LogSoftmax large = %v", got)
	}
	// Probabilities of a random row sum to 1.
	logits := randomLogits(1000)
	var sum float64
	for _, v := range LogSoftmax(nil, logits) {
		sum += math.Exp(float64(v))
	}
	if !near(sum, 1, 1e-4) {
		t.Fatalf("sum of probabilities = %v", sum)
	}
	// In place.
	in := []float32{0, float32(math.Log(3))}
	LogSoftmax(in, in)
	if !near(float64(in[1]), math.Log(0.75), 1e-6) {
		t.Fatalf("in-place LogSoftmax = %v", in)
	}
}

func TestTopLogprobs(t *testing.T) {
	logits := ln(0.1, 0.4, 0.1, 0.3, 0.1)
	got := TopLogprobs(logits, 3)
	wantIDs := []int32{1, 3, 0} // 0.1 three-way tie -> lowest id
	wantLP := []float64{math.Log(0.4), math.Log(0.3), math.Log(0.1)}
	if len(got) != 3 {
		t.Fatalf("len = %d", len(got))
	}
	for i := range got {
		if got[i].ID != wantIDs[i] || !near(float64(got[i].Logprob), wantLP[i], 1e-6) {
			t.Fatalf("TopLogprobs[%d] = %+v want id %d lp %.6f", i, got[i], wantIDs[i], wantLP[i])
		}
	}
	if n := len(TopLogprobs(logits, 50)); n != 5 {
		t.Fatalf("k clamp: %d", n)
	}
	if TopLogprobs(logits, 0) != nil || TopLogprobs(nil, 3) != nil {
		t.Fatal("k=0 or empty logits should return nil")
	}
	lp, err := LogprobOf(logits, 3)
	if err != nil || !near(float64(lp), math.Log(0.3), 1e-6) {
		t.Fatalf("LogprobOf = %v, %v", lp, err)
	}
	if _, err := LogprobOf(logits, 5); err == nil {
		t.Fatal("LogprobOf out of range: no error")
	}
	// Agrees with a full sort of LogSoftmax on a random row.
	row := randomLogits(4000)
	all := LogSoftmax(nil, row)
	order := make([]int32, len(row))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		return cmpCandidates(candidate{id: a, logit: row[a]}, candidate{id: b, logit: row[b]})
	})
	top := TopLogprobs(row, 20)
	for i, tl := range top {
		if tl.ID != order[i] || tl.Logprob != all[tl.ID] {
			t.Fatalf("rank %d: %+v, full sort says id %d lp %v", i, tl, order[i], all[order[i]])
		}
	}
}
