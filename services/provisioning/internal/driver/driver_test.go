package driver

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLevelOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text, stream, want string
	}{
		{`{"level":"INFO","msg":"hi"}`, "stderr", "info"},
		{`{"level":"Warning","msg":"hi"}`, "stdout", "warn"},
		{`{"level":"debug"}`, "stdout", "debug"},
		{`{"level":"ERROR"}`, "stdout", "error"},
		{`{"level":"fatal"}`, "stdout", "error"},
		{`{"level":3}`, "stdout", "info"},
		{`{"msg":"no level"}`, "stderr", "error"},
		{`{"msg":"no level"}`, "", "info"},
		{`{not json`, "stdout", "info"},
		{"plain", "stdout", "info"},
		{"plain", "stderr", "error"},
		{"panic: boom", "", "info"},
	}
	for _, tt := range tests {
		if got := LevelOf(tt.text, tt.stream); got != tt.want {
			t.Errorf("LevelOf(%q, %q) = %q, want %q", tt.text, tt.stream, got, tt.want)
		}
	}
}

func TestSelectLogs(t *testing.T) {
	t.Parallel()
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	lines := []LogLine{
		{Time: at(3), Instance: "1", Level: "error", Message: "c"},
		{Time: at(1), Instance: "0", Level: "info", Message: "a"},
		{Time: at(2), Instance: "0", Level: "warn", Message: "b"},
		{Time: at(2), Instance: "1", Level: "debug", Message: "b2"},
	}
	msgs := func(ls []LogLine) string {
		var out []string
		for _, l := range ls {
			out = append(out, l.Message)
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		q    LogQuery
		want string
	}{
		{LogQuery{}, "a,b,b2,c"},
		{LogQuery{MinLevel: "warn"}, "b,c"},
		{LogQuery{Limit: 2}, "b2,c"},
		{LogQuery{MinLevel: "info", Limit: 1}, "c"},
	}
	for _, tt := range tests {
		if got := msgs(SelectLogs(slices.Clone(lines), tt.q)); got != tt.want {
			t.Errorf("SelectLogs(%+v) = %s; want %s", tt.q, got, tt.want)
		}
	}
}
