// Package httpserver serves HTTP until a context ends, then shuts down under
// a deadline, closing hijacked connections (WebSockets) as well.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Serve serves h on lis until ctx ends, then stops accepting, gives in-flight
// requests until timeout, and cancels the context of every request, which is
// what ends long-lived WebSocket connections that Shutdown does not track.
func Serve(ctx context.Context, lis net.Listener, h http.Handler, timeout time.Duration) error {
	connCtx, closeConns := context.WithCancel(context.WithoutCancel(ctx))
	defer closeConns()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return connCtx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http serve: %w", err)
	case <-ctx.Done():
	}
	closeConns()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("http shutdown: %w", err)
	}
	srv.Close() //nolint:errcheck // whatever outlived the deadline
	return nil
}
