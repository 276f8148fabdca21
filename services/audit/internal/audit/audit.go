// Package audit is the audit log's domain: entries, the hash that chains
// them, the verification of the chain, and the rules of searching and
// exporting. Storage and transport meet here.
package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// HashSize is the size of an entry's hash (SHA-256).
const HashSize = sha256.Size

// GenesisHash is the previous hash of the first entry: 32 zero bytes.
var GenesisHash = make([]byte, HashSize)

// Record is an event as the consumer read it, not yet in the log.
type Record struct {
	EventID   uuid.UUID
	StreamSeq uint64
	Time      time.Time
	Actor     string
	Action    string
	Resource  string
	Outcome   string
	Source    string
	Summary   string
	// Details is the JSON text stored and hashed, byte for byte.
	Details []byte
}

// Entry is a record in the log, with its place in the chain.
type Entry struct {
	Seq int64
	Record
	RecordedAt time.Time
	PrevHash   []byte
	Hash       []byte
}

// Seal sets e's PrevHash to prev and computes its Hash. Times are first
// normalised the way PostgreSQL stores them (UTC, microseconds), so the hash
// recomputes from the stored row.
func (e *Entry) Seal(prev []byte) {
	e.Time = Normalize(e.Time)
	e.RecordedAt = Normalize(e.RecordedAt)
	e.PrevHash = bytes.Clone(prev)
	e.Hash = Hash(e)
}

// Normalize returns t as PostgreSQL's timestamptz keeps it: UTC, truncated to
// the microsecond.
func Normalize(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Hash returns SHA-256 over e's PrevHash followed by each other stored field,
// each as an 8-byte big-endian length and then its bytes, so that no two
// different entries encode alike: seq (8 bytes), event id (16), stream seq
// (8), time and recorded_at (Unix microseconds, 8 each), then actor, action,
// resource, outcome, source, summary (UTF-8) and details (the stored JSON
// text).
func Hash(e *Entry) []byte {
	h := sha256.New()
	h.Write(e.PrevHash)
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	u64 := func(v uint64) {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], v)
		field(b[:])
	}
	u64(uint64(e.Seq))
	field(e.EventID[:])
	u64(e.StreamSeq)
	u64(uint64(Normalize(e.Time).UnixMicro()))
	u64(uint64(Normalize(e.RecordedAt).UnixMicro()))
	for _, s := range []string{e.Actor, e.Action, e.Resource, e.Outcome, e.Source, e.Summary} {
		field([]byte(s))
	}
	field(e.Details)
	return h.Sum(nil)
}

// Reasons a chain breaks.
const (
	ReasonAltered = "hash mismatch: entry altered"
	ReasonRelink  = "prev_hash does not match the previous entry's hash: entry removed or reordered"
)

// Verification is the result of checking a stretch of the chain.
type Verification struct {
	OK             bool
	EntriesChecked int64
	// FirstBrokenSeq and Reason say where and why the chain first breaks.
	FirstBrokenSeq int64
	Reason         string
	// LastSeq and LastHash are the last checked entry's.
	LastSeq  int64
	LastHash []byte
}

// Verifier checks entries one by one in seq order. Each entry is checked on
// its own (its hash recomputes, its prev_hash is the stored hash of the entry
// before it), so one altered entry marks that entry only; the result keeps
// the first break.
type Verifier struct {
	prevSeq  int64
	prevHash []byte
	res      Verification
}

// NewVerifier starts a verification at entry first. anchor is the entry
// before it (first-1), nil when first is 1 or when that entry is missing.
func NewVerifier(first int64, anchor *Entry) *Verifier {
	v := &Verifier{res: Verification{OK: true}}
	switch {
	case first <= 1:
		v.prevSeq, v.prevHash = 0, GenesisHash
	case anchor != nil && anchor.Seq == first-1:
		v.prevSeq, v.prevHash = anchor.Seq, anchor.Hash
	default:
		v.prevSeq, v.prevHash = first-1, nil // missing: the first entry cannot link
	}
	return v
}

// Check verifies e, the next entry, and returns whether it holds and, if
// not, why.
func (v *Verifier) Check(e *Entry) (bool, string) {
	reason := ""
	switch {
	case !bytes.Equal(Hash(e), e.Hash):
		reason = ReasonAltered
	case v.prevHash == nil:
		reason = fmt.Sprintf("entry %d before it is missing: entry removed", e.Seq-1)
	case !bytes.Equal(e.PrevHash, v.prevHash):
		reason = ReasonRelink
	case e.Seq != v.prevSeq+1:
		reason = fmt.Sprintf("seq %d follows seq %d: entries removed", e.Seq, v.prevSeq)
	}
	v.res.EntriesChecked++
	v.res.LastSeq, v.res.LastHash = e.Seq, e.Hash
	v.prevSeq, v.prevHash = e.Seq, e.Hash
	if reason != "" && v.res.OK {
		v.res.OK, v.res.FirstBrokenSeq, v.res.Reason = false, e.Seq, reason
	}
	return reason == "", reason
}

// Result is the verification so far.
func (v *Verifier) Result() Verification { return v.res }

// Filter selects entries; zero fields select everything.
type Filter struct {
	Actor          string
	Action         string
	ResourcePrefix string
	Outcome        string
	Start, End     time.Time
	Query          string
}

// Page asks for a page of entries: those after seq After (before, when Desc;
// 0 means from the start) in seq order, at most Limit.
type Page struct {
	After int64
	Desc  bool
	Limit int
}

// Store keeps the log.
type Store interface {
	// Append adds recs to the end of the chain in their order, skipping those
	// whose event id is already recorded, atomically and under a lock that
	// keeps concurrent writers from forking the chain.
	Append(ctx context.Context, recs []Record) (written, skipped int, err error)
	// Get returns the entry seq; NotFound when there is none.
	Get(ctx context.Context, seq int64) (*Entry, error)
	// Search returns a page of the entries that match f.
	Search(ctx context.Context, f Filter, p Page) ([]*Entry, error)
	// Walk calls fn for every entry with from <= seq <= to (to 0: no upper
	// bound) in seq order, without holding them all in memory.
	Walk(ctx context.Context, from, to int64, fn func(*Entry) error) error
	// Span returns the first and last seq of the entries with time in
	// [start, end); ok is false when there are none.
	Span(ctx context.Context, start, end time.Time) (first, last int64, ok bool, err error)
}
