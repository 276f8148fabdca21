// Package errs is the one error type services use to say what kind of failure
// happened. Handlers return these (wrapped as they like); the gRPC server maps
// the Kind to a status code in one interceptor, and nothing else does.
package errs

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the caller.
type Kind int

const (
	// Internal is anything not classified: a bug or an outage the caller cannot fix.
	Internal Kind = iota
	// NotFound: the resource does not exist.
	NotFound
	// AlreadyExists: a resource with that identity exists.
	AlreadyExists
	// Invalid: the request is malformed; Field names the culprit.
	Invalid
	// Conflict: the resource changed since the caller read it (stale etag).
	Conflict
	// FailedPrecondition: the request is well formed but the resource's state forbids it.
	FailedPrecondition
	// PermissionDenied: the caller may not do this.
	PermissionDenied
	// Unauthenticated: the caller is not known.
	Unauthenticated
	// Unavailable: a dependency is down; retrying later may work.
	Unavailable
	// ResourceExhausted: a limit was reached.
	ResourceExhausted
)

var kindNames = map[Kind]string{
	Internal:           "internal",
	NotFound:           "not found",
	AlreadyExists:      "already exists",
	Invalid:            "invalid",
	Conflict:           "conflict",
	FailedPrecondition: "failed precondition",
	PermissionDenied:   "permission denied",
	Unauthenticated:    "unauthenticated",
	Unavailable:        "unavailable",
	ResourceExhausted:  "resource exhausted",
}

func (k Kind) String() string { return kindNames[k] }

// Error is a classified error. Reason is a stable UPPER_SNAKE identifier that
// clients may switch on (it becomes google.rpc.ErrorInfo.reason); Metadata adds
// machine-readable facts, such as the current state.
type Error struct {
	Kind     Kind
	Reason   string
	Message  string
	Field    string
	Metadata map[string]string
}

func (e *Error) Error() string { return e.Message }

// E builds an Error with a formatted message.
func E(kind Kind, reason, format string, args ...any) *Error {
	return &Error{Kind: kind, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// InvalidField reports a bad request field by its path.
func InvalidField(field, format string, args ...any) *Error {
	return &Error{Kind: Invalid, Reason: "INVALID_ARGUMENT", Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
}

// With returns a copy of e with one metadata entry added.
func (e *Error) With(key, value string) *Error {
	c := *e
	c.Metadata = make(map[string]string, len(e.Metadata)+1)
	for k, v := range e.Metadata {
		c.Metadata[k] = v
	}
	c.Metadata[key] = value
	return &c
}

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// KindOf returns the Kind of err, or Internal when it is not classified.
func KindOf(err error) Kind {
	if e, ok := As(err); ok {
		return e.Kind
	}
	return Internal
}

// Is reports whether err is classified as kind.
func Is(err error, kind Kind) bool {
	return err != nil && KindOf(err) == kind
}
