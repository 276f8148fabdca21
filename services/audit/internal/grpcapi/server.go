// Package grpcapi serves the AuditService over gRPC: it converts between the
// protos and the domain, streams exports, and leaves errors to the server's
// one mapping interceptor.
package grpcapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/platformportal/portal/platform/errs"
	auditv1 "github.com/platformportal/portal/proto/gen/go/portal/audit/v1"
	"github.com/platformportal/portal/services/audit/internal/audit"
)

// Page sizes.
const (
	defaultPage = 50
	maxPage     = 1000
)

// Server implements auditv1.AuditServiceServer.
type Server struct {
	auditv1.UnimplementedAuditServiceServer
	svc *audit.Service
}

// NewServer returns a Server over svc.
func NewServer(svc *audit.Service) *Server { return &Server{svc: svc} }

// searchToken is the content of a SearchEntries page token: the query it was
// made for and the last seq returned.
type searchToken struct {
	Query string `json:"q"`
	Seq   int64  `json:"s"`
}

// SearchEntries implements auditv1.AuditServiceServer.
func (s *Server) SearchEntries(ctx context.Context, req *auditv1.SearchEntriesRequest) (*auditv1.SearchEntriesResponse, error) {
	size := int(req.GetPageSize())
	switch {
	case size < 0 || size > maxPage:
		return nil, errs.InvalidField("page_size", "must be between 0 and %d", maxPage)
	case size == 0:
		size = defaultPage
	}
	f := audit.Filter{
		Actor: req.GetActor(), Action: req.GetAction(), ResourcePrefix: req.GetResource(), Outcome: req.GetOutcome(),
		Query: strings.TrimSpace(req.GetQuery()),
	}
	if req.GetStartTime() != nil {
		f.Start = req.GetStartTime().AsTime()
	}
	if req.GetEndTime() != nil {
		f.End = req.GetEndTime().AsTime()
	}
	var p audit.Page
	switch req.GetOrderBy() {
	case "", "seq desc":
		p.Desc = true
	case "seq":
	default:
		return nil, errs.InvalidField("order_by", "must be \"seq\" or \"seq desc\", not %q", req.GetOrderBy())
	}
	fingerprint := queryFingerprint(req)
	if t := req.GetPageToken(); t != "" {
		var tok searchToken
		if err := decodeToken(t, &tok); err != nil {
			return nil, err
		}
		if tok.Query != fingerprint || tok.Seq <= 0 {
			return nil, errs.InvalidField("page_token", "was made for a different filter or order; start again without a token")
		}
		p.After = tok.Seq
	}
	p.Limit = size
	es, more, err := s.svc.Search(ctx, f, p)
	if err != nil {
		return nil, err
	}
	resp := &auditv1.SearchEntriesResponse{Entries: make([]*auditv1.Entry, 0, len(es))}
	for _, e := range es {
		resp.Entries = append(resp.Entries, EntryToProto(e))
	}
	if more {
		resp.NextPageToken = encodeToken(searchToken{Query: fingerprint, Seq: es[len(es)-1].Seq})
	}
	return resp, nil
}

// GetEntry implements auditv1.AuditServiceServer.
func (s *Server) GetEntry(ctx context.Context, req *auditv1.GetEntryRequest) (*auditv1.GetEntryResponse, error) {
	if req.GetSeq() <= 0 {
		return nil, errs.InvalidField("seq", "must be positive")
	}
	e, err := s.svc.Get(ctx, req.GetSeq())
	if err != nil {
		return nil, err
	}
	return &auditv1.GetEntryResponse{Entry: EntryToProto(e)}, nil
}

// VerifyChain implements auditv1.AuditServiceServer.
func (s *Server) VerifyChain(ctx context.Context, req *auditv1.VerifyChainRequest) (*auditv1.VerifyChainResponse, error) {
	v, err := s.svc.Verify(ctx, req.GetStartSeq(), req.GetEndSeq())
	if err != nil {
		return nil, err
	}
	return &auditv1.VerifyChainResponse{
		Ok: v.OK, EntriesChecked: v.EntriesChecked, FirstBrokenSeq: v.FirstBrokenSeq, Reason: v.Reason,
		LastSeq: v.LastSeq, LastHash: v.LastHash,
	}, nil
}

// ExportEntries implements auditv1.AuditServiceServer.
func (s *Server) ExportEntries(req *auditv1.ExportEntriesRequest, stream grpc.ServerStreamingServer[httpbody.HttpBody]) error {
	var start, end time.Time
	if req.GetStartTime() != nil {
		start = req.GetStartTime().AsTime()
	}
	if req.GetEndTime() != nil {
		end = req.GetEndTime().AsTime()
	}
	if err := audit.CheckExportRange(start, end); err != nil {
		return err
	}
	var enc exporter
	switch req.GetFormat() {
	case "", "json":
		enc = &jsonExporter{from: start, to: end}
	case "csv":
		enc = &csvExporter{}
	default:
		return errs.InvalidField("format", "must be \"csv\" or \"json\", not %q", req.GetFormat())
	}
	w := newChunkWriter(stream, enc.contentType())
	if err := enc.begin(w); err != nil {
		return err
	}
	v, err := s.svc.Export(stream.Context(), start, end, func(e *audit.Entry, verified bool) error {
		return enc.entry(w, e, verified)
	})
	if err != nil {
		return err
	}
	if err := enc.end(w, v); err != nil {
		return err
	}
	return w.flush()
}

// EntryToProto converts an entry.
func EntryToProto(e *audit.Entry) *auditv1.Entry {
	var details structpb.Struct
	if err := details.UnmarshalJSON(e.Details); err != nil {
		// Details are always an object; anything else is shown as its text.
		details = structpb.Struct{Fields: map[string]*structpb.Value{"text": structpb.NewStringValue(string(e.Details))}}
	}
	return &auditv1.Entry{
		Seq: e.Seq, EventId: e.EventID.String(), StreamSeq: int64(e.StreamSeq),
		Time: timestamppb.New(e.Time), RecordTime: timestamppb.New(e.RecordedAt),
		Actor: e.Actor, Action: e.Action, Resource: e.Resource, Outcome: e.Outcome, Source: e.Source,
		Summary: e.Summary, Details: &details, PrevHash: e.PrevHash, Hash: e.Hash,
	}
}

func encodeToken(v any) string {
	b, _ := json.Marshal(v) // plain structs always marshal
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		err = dec.Decode(v)
	}
	if err != nil {
		return errs.InvalidField("page_token", "is malformed; use next_page_token from the previous response")
	}
	return nil
}

// queryFingerprint identifies a search apart from its paging.
func queryFingerprint(req *auditv1.SearchEntriesRequest) string {
	ts := func(t *timestamppb.Timestamp) string {
		if t == nil {
			return ""
		}
		return t.AsTime().Format(time.RFC3339Nano)
	}
	b, _ := json.Marshal([]string{req.GetActor(), req.GetAction(), req.GetResource(), req.GetOutcome(),
		ts(req.GetStartTime()), ts(req.GetEndTime()), strings.TrimSpace(req.GetQuery()), req.GetOrderBy()})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
