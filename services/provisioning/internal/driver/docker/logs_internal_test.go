package docker

import (
	"bytes"
	"testing"
	"time"
)

func TestParseLines(t *testing.T) {
	t.Parallel()
	in := bytes.NewBufferString("2025-03-01T12:00:00.000000001Z hello world\r\nno timestamp here\n2025-03-01T12:00:01Z {\"level\":\"warn\"}")
	got := parseLines(in, "2", "stdout")
	if len(got) != 3 {
		t.Fatalf("parseLines() = %d lines, want 3: %+v", len(got), got)
	}
	if want := time.Date(2025, 3, 1, 12, 0, 0, 1, time.UTC); !got[0].Time.Equal(want) || got[0].Message != "hello world" {
		t.Errorf("line 0 = %+v, want time %v and message %q", got[0], want, "hello world")
	}
	if !got[1].Time.IsZero() || got[1].Message != "no timestamp here" || got[1].Level != "info" {
		t.Errorf("line 1 = %+v, want no time, the whole text, info", got[1])
	}
	if got[2].Level != "warn" || got[2].Instance != "2" || got[2].Stream != "stdout" {
		t.Errorf("line 2 = %+v, want warn from instance 2 on stdout", got[2])
	}
}
