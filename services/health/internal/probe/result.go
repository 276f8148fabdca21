package probe

import "time"

// Result is the outcome of one probe run.
type Result struct {
	OK      bool
	Latency time.Duration
	// Message is short and safe to show: a status, an exit code or the kind
	// of network error, never a URL, header, or command output.
	Message string
	// Time is when the probe started.
	Time time.Time
}

// maxMessage bounds Message so a chatty error cannot bloat history.
const maxMessage = 160

func truncate(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	return s[:maxMessage-3] + "..."
}
