package series

import (
	"context"
	"testing"
	"time"
)

// BenchmarkQuery30Days1000Points loads 30 days of one series at one sample a
// minute (43,200 samples) and its rollups, then measures a 30-day query whose
// step gives 1,000 points; at a 43m12s step that reads the minute rollups.
func BenchmarkQuery30Days1000Points(b *testing.B) {
	const span = 30 * 24 * time.Hour
	end := t0.Add(span)
	s, _ := newStore(b, end)
	ctx := context.Background()
	labels := Labels{"job": "bench", "instance": "i-1"}
	// Appended in batches of a day, so memory stays bounded whatever the span.
	batch := make([]Sample, 0, 24*60)
	for d := time.Duration(0); d < span; d += time.Minute {
		batch = append(batch, Sample{Name: "bench_load", Labels: labels, Time: t0.Add(d), Value: float64(d / time.Minute % 97)})
		if len(batch) == cap(batch) {
			mustAppend(b, s, batch...)
			batch = batch[:0]
		}
	}
	mustAppend(b, s, batch...)
	if err := s.Rollup(ctx, end); err != nil {
		b.Fatalf("Rollup = %v", err)
	}
	q := Query{Name: "bench_load", Labels: labels, Start: t0, End: end, Step: span / 1000, Agg: Avg}

	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		got, err := s.Query(ctx, q)
		if err != nil {
			b.Fatalf("Query = %v", err)
		}
		if len(got) != 1 || len(got[0].Points) != 1000 || got[0].Resolution != Minute {
			b.Fatalf("Query = %d series, want 1 with 1000 points from minute rollups", len(got))
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/op")
}
