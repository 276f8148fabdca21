package grpcapi

import "testing"

func TestCellDefusesFormulas(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"alice@example.com":        "alice@example.com",
		"=HYPERLINK(\"http://x\")": "'=HYPERLINK(\"http://x\")",
		"+1":                       "'+1",
		"-2":                       "'-2",
		"@SUM(A1)":                 "'@SUM(A1)",
		"\tx":                      "'\tx",
		"":                         "",
	} {
		if got := cell(in); got != want {
			t.Errorf("cell(%q) = %q, want %q", in, got, want)
		}
	}
}
