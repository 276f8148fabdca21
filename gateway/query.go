package gateway

import (
	"net/url"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// strictQuery refuses query parameters that name no field of the request, so
// a typo such as ?state=RUNNING (for states) is an error rather than a
// silently unfiltered answer; grpc-gateway's own parser ignores them.
type strictQuery struct{ runtime.DefaultQueryParser }

func (p strictQuery) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	md := msg.ProtoReflect().Descriptor()
	for key := range values {
		if !hasField(md, strings.Split(key, ".")) {
			return status.Errorf(codes.InvalidArgument, "unknown query parameter %q", truncate(key, 80))
		}
	}
	return p.DefaultQueryParser.Parse(msg, values, filter)
}

func hasField(md protoreflect.MessageDescriptor, path []string) bool {
	name := path[0]
	if i := strings.IndexByte(name, '['); i > 0 { // map entries: labels[key]
		name = name[:i]
	}
	fd := md.Fields().ByJSONName(name)
	if fd == nil {
		fd = md.Fields().ByName(protoreflect.Name(name))
	}
	if fd == nil {
		return false
	}
	if len(path) == 1 {
		return true
	}
	if fd.Message() == nil {
		return false
	}
	return hasField(fd.Message(), path[1:])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
