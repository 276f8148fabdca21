package docker

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/platformportal/portal/services/provisioning/internal/driver"
)

// Logs returns the newest lines of the agent's containers that match q,
// oldest first.
func (d *Driver) Logs(ctx context.Context, w *driver.Workload, q driver.LogQuery) ([]driver.LogLine, error) {
	limit := q.LimitOrDefault()
	// Reading only Limit lines and then dropping those below MinLevel would
	// return too few; read further back when a filter applies.
	tail := limit
	if q.MinLevel != "" && driver.LevelRank(q.MinLevel) > 0 {
		tail = max(limit, d.opts.LogScanLines)
	}
	ctrs, err := d.list(ctx, w)
	if err != nil {
		return nil, err
	}
	var lines []driver.LogLine
	for _, c := range ctrs {
		if q.Instance != "" && q.Instance != strconv.Itoa(c.instance) {
			continue
		}
		got, err := d.containerLogs(ctx, c, tail)
		if err != nil {
			return nil, err
		}
		lines = append(lines, got...)
	}
	return driver.SelectLogs(lines, q), nil
}

// containerLogs reads the last tail lines of one container, both streams,
// merged in time order.
func (d *Driver) containerLogs(ctx context.Context, c ctr, tail int) ([]driver.LogLine, error) {
	rc, err := d.cli.ContainerLogs(ctx, c.ID, client.ContainerLogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Timestamps: true,
		Tail:       strconv.Itoa(tail),
	})
	if err != nil {
		return nil, d.engineErr(err, "read logs of container %s", c.name())
	}
	defer rc.Close()
	// The driver never allocates a TTY, so the engine multiplexes both
	// streams into one with 8-byte frame headers.
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, rc); err != nil {
		return nil, d.engineErr(err, "read logs of container %s", c.name())
	}
	inst := ""
	if c.Labels != nil {
		inst = c.Labels[LabelInstance]
	}
	lines := parseLines(&stdout, inst, "stdout")
	lines = append(lines, parseLines(&stderr, inst, "stderr")...)
	slices.SortStableFunc(lines, func(a, b driver.LogLine) int { return a.Time.Compare(b.Time) })
	return lines, nil
}

// parseLines splits one stream into lines of the form "<RFC 3339 time> <text>"
// (the engine's timestamps=1 format).
func parseLines(r *bytes.Buffer, instance, stream string) []driver.LogLine {
	var out []driver.LogLine
	for text := range strings.Lines(r.String()) {
		text = strings.TrimRight(text, "\r\n")
		var t time.Time
		if ts, rest, ok := strings.Cut(text, " "); ok {
			if parsed, err := time.Parse(time.RFC3339Nano, ts); err == nil {
				t, text = parsed, rest
			}
		}
		out = append(out, driver.LogLine{
			Time:     t,
			Instance: instance,
			Stream:   stream,
			Level:    driver.LevelOf(text, stream),
			Message:  text,
		})
	}
	return out
}
