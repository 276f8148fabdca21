package driver

import "testing"

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
