// Package actor carries who is making a request through a context, so that state
// history and events name the actor. Authentication (which sets it from a
// verified identity) comes with the auth work; until then every request is made
// by Anonymous.
package actor

import "context"

// Anonymous is the actor of an unauthenticated request.
const Anonymous = "anonymous"

// System is the actor of changes the platform makes by itself.
const System = "system"

type ctxKey struct{}

// With returns a context carrying the actor name.
func With(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, ctxKey{}, name)
}

// From returns the actor in ctx, or Anonymous.
func From(ctx context.Context) string {
	if s, ok := ctx.Value(ctxKey{}).(string); ok && s != "" {
		return s
	}
	return Anonymous
}
