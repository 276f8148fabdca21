package kinds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/platformportal/portal/agentkit"
)

var dataOps = []string{"sum", "count", "uppercase", "sort"}

type transformInput struct {
	Records []json.RawMessage `json:"records"`
	Op      string            `json:"op"`
}

type transformOutput struct {
	Op     string `json:"op"`
	Result any    `json:"result"`
}

// record is one input record: a number or a string.
type record struct {
	isNum bool
	num   float64
	str   string
}

// transform applies op to the records: sum and count give a number,
// uppercase gives strings, sort gives numbers or strings in order.
func transform(_ context.Context, raw json.RawMessage, _ agentkit.Config) (any, error) {
	var in transformInput
	if err := decodeInput(raw, &in); err != nil {
		return nil, err
	}
	if !slices.Contains(dataOps, in.Op) {
		return nil, fmt.Errorf("op: %q is not one of %s", in.Op, strings.Join(dataOps, ", "))
	}
	recs := make([]record, len(in.Records))
	for i, r := range in.Records {
		rec, err := parseRecord(r)
		if err != nil {
			return nil, fmt.Errorf("records[%d]: %w", i, err)
		}
		recs[i] = rec
	}

	switch in.Op {
	case "count":
		return transformOutput{Op: in.Op, Result: len(recs)}, nil
	case "sum":
		var sum float64
		for i, r := range recs {
			if !r.isNum {
				return nil, fmt.Errorf("records[%d]: sum needs numbers, got a string", i)
			}
			sum += r.num
		}
		return transformOutput{Op: in.Op, Result: sum}, nil
	case "uppercase":
		out := make([]string, len(recs))
		for i, r := range recs {
			if r.isNum {
				return nil, fmt.Errorf("records[%d]: uppercase needs strings, got a number", i)
			}
			out[i] = strings.ToUpper(r.str)
		}
		return transformOutput{Op: in.Op, Result: out}, nil
	default: // sort
		return sortRecords(recs)
	}
}

func sortRecords(recs []record) (any, error) {
	if len(recs) == 0 {
		return transformOutput{Op: "sort", Result: []any{}}, nil
	}
	if recs[0].isNum {
		out := make([]float64, len(recs))
		for i, r := range recs {
			if !r.isNum {
				return nil, fmt.Errorf("records[%d]: sort needs all numbers or all strings", i)
			}
			out[i] = r.num
		}
		slices.Sort(out)
		return transformOutput{Op: "sort", Result: out}, nil
	}
	out := make([]string, len(recs))
	for i, r := range recs {
		if r.isNum {
			return nil, fmt.Errorf("records[%d]: sort needs all numbers or all strings", i)
		}
		out[i] = r.str
	}
	slices.Sort(out)
	return transformOutput{Op: "sort", Result: out}, nil
}

func parseRecord(raw json.RawMessage) (record, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return record{}, err
		}
		return record{str: s}, nil
	}
	var f float64
	if len(raw) > 0 && (raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9') {
		if err := json.Unmarshal(raw, &f); err != nil {
			return record{}, err
		}
		return record{isNum: true, num: f}, nil
	}
	return record{}, errors.New("must be a number or a string")
}
