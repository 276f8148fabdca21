package grpcapi

import (
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"

	"github.com/platformportal/portal/services/audit/internal/audit"
)

// chunkSize is how much export data one stream message carries.
const chunkSize = 32 << 10

// chunkWriter sends what is written to it as HttpBody messages of about
// chunkSize, so an export never sits whole in memory.
type chunkWriter struct {
	stream      grpc.ServerStreamingServer[httpbody.HttpBody]
	contentType string
	buf         []byte
}

func newChunkWriter(stream grpc.ServerStreamingServer[httpbody.HttpBody], contentType string) *chunkWriter {
	return &chunkWriter{stream: stream, contentType: contentType, buf: make([]byte, 0, 2*chunkSize)}
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	if len(w.buf) >= chunkSize {
		if err := w.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (w *chunkWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	if err := w.stream.Send(&httpbody.HttpBody{ContentType: w.contentType, Data: w.buf}); err != nil {
		return fmt.Errorf("send export chunk: %w", err)
	}
	// A fresh buffer: gRPC forbids changing a message once sent (stats
	// handlers may read it later).
	w.buf = make([]byte, 0, 2*chunkSize)
	return nil
}

// exporter writes one export format.
type exporter interface {
	contentType() string
	begin(w io.Writer) error
	entry(w io.Writer, e *audit.Entry, verified bool) error
	end(w io.Writer, v audit.Verification) error
}

const exportTime = "2006-01-02T15:04:05.000000Z07:00"

// jsonEntry is an entry in a JSON export; details are the stored JSON text.
type jsonEntry struct {
	Seq        int64           `json:"seq"`
	EventID    string          `json:"event_id"`
	StreamSeq  uint64          `json:"stream_seq"`
	Time       string          `json:"time"`
	RecordedAt string          `json:"recorded_at"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	Resource   string          `json:"resource"`
	Outcome    string          `json:"outcome"`
	Source     string          `json:"source"`
	Summary    string          `json:"summary"`
	Details    json.RawMessage `json:"details"`
	PrevHash   string          `json:"prev_hash"`
	Hash       string          `json:"hash"`
	Verified   bool            `json:"verified"`
}

type jsonVerification struct {
	OK             bool   `json:"ok"`
	EntriesChecked int64  `json:"entries_checked"`
	FirstBrokenSeq int64  `json:"first_broken_seq"`
	Reason         string `json:"reason"`
	LastSeq        int64  `json:"last_seq"`
	LastHash       string `json:"last_hash"`
}

// jsonExporter writes one object, {"start_time", "end_time", "entries": [...],
// "verification": {...}}, an entry at a time.
type jsonExporter struct {
	from, to time.Time
	n        int
}

func (x *jsonExporter) contentType() string { return "application/json" }

func (x *jsonExporter) begin(w io.Writer) error {
	_, err := fmt.Fprintf(w, `{"start_time":%q,"end_time":%q,"entries":[`,
		x.from.UTC().Format(time.RFC3339Nano), x.to.UTC().Format(time.RFC3339Nano))
	return err
}

func (x *jsonExporter) entry(w io.Writer, e *audit.Entry, verified bool) error {
	sep := ",\n"
	if x.n == 0 {
		sep = "\n"
	}
	x.n++
	if _, err := io.WriteString(w, sep); err != nil {
		return err
	}
	details := json.RawMessage(e.Details)
	if !json.Valid(details) {
		b, _ := json.Marshal(string(e.Details)) // strings always marshal
		details = b
	}
	return writeJSON(w, jsonEntry{
		Seq: e.Seq, EventID: e.EventID.String(), StreamSeq: e.StreamSeq,
		Time: e.Time.UTC().Format(exportTime), RecordedAt: e.RecordedAt.UTC().Format(exportTime),
		Actor: e.Actor, Action: e.Action, Resource: e.Resource, Outcome: e.Outcome, Source: e.Source,
		Summary: e.Summary, Details: details, PrevHash: hex.EncodeToString(e.PrevHash), Hash: hex.EncodeToString(e.Hash),
		Verified: verified,
	})
}

func (x *jsonExporter) end(w io.Writer, v audit.Verification) error {
	if _, err := io.WriteString(w, "\n],\"verification\":"); err != nil {
		return err
	}
	if err := writeJSON(w, jsonVerification{OK: v.OK, EntriesChecked: v.EntriesChecked, FirstBrokenSeq: v.FirstBrokenSeq,
		Reason: v.Reason, LastSeq: v.LastSeq, LastHash: hex.EncodeToString(v.LastHash)}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "}\n")
	return err
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode export: %w", err)
	}
	_, err = w.Write(b)
	return err
}

// csvHeader names the CSV export's columns.
var csvHeader = []string{"seq", "event_id", "stream_seq", "time", "recorded_at", "actor", "action", "resource",
	"outcome", "source", "summary", "details", "prev_hash", "hash", "verified"}

// csvExporter writes a header row, a row per entry, and a last line
// "# chain verification: ...".
type csvExporter struct {
	cw *csv.Writer
}

func (x *csvExporter) contentType() string { return "text/csv; charset=utf-8" }

func (x *csvExporter) begin(w io.Writer) error {
	x.cw = csv.NewWriter(w)
	return x.cw.Write(csvHeader)
}

func (x *csvExporter) entry(_ io.Writer, e *audit.Entry, verified bool) error {
	status := "ok"
	if !verified {
		status = "BROKEN"
	}
	return x.cw.Write([]string{
		strconv.FormatInt(e.Seq, 10), e.EventID.String(), strconv.FormatUint(e.StreamSeq, 10),
		e.Time.UTC().Format(exportTime), e.RecordedAt.UTC().Format(exportTime),
		cell(e.Actor), cell(e.Action), cell(e.Resource), cell(e.Outcome), cell(e.Source), cell(e.Summary), cell(string(e.Details)),
		hex.EncodeToString(e.PrevHash), hex.EncodeToString(e.Hash), status,
	})
}

// cell defuses a text a spreadsheet would run as a formula (an actor named
// "=HYPERLINK(…)" from a login): it gets a leading apostrophe, as OWASP
// advises. The JSON export carries every value exactly as hashed.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (x *csvExporter) end(w io.Writer, v audit.Verification) error {
	x.cw.Flush()
	if err := x.cw.Error(); err != nil {
		return err
	}
	var err error
	if v.OK {
		_, err = fmt.Fprintf(w, "# chain verification: ok (%d entries)\n", v.EntriesChecked)
	} else {
		_, err = fmt.Fprintf(w, "# chain verification: BROKEN at seq %d: %s\n", v.FirstBrokenSeq, v.Reason)
	}
	return err
}
