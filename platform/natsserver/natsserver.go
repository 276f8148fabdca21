// Package natsserver runs an embedded NATS server with JetStream, for the
// all-in-one binary and for tests.
package natsserver

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options for Start.
type Options struct {
	// Host and Port to listen on; Port -1 picks a free one.
	Host string
	Port int
	// StoreDir holds JetStream's data.
	StoreDir string
}

// Start runs a server and waits until it accepts connections.
func Start(o Options) (*server.Server, error) {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "portal-embedded",
		Host:       o.Host,
		Port:       o.Port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		// Subscribers that fall behind are cut rather than slowing publishers.
		MaxPending: 64 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("embedded nats: not ready after 10s")
	}
	return srv, nil
}

// NewTest starts a server on a free port with its data in a temporary
// directory, stopped when the test ends.
func NewTest(tb testing.TB) *server.Server {
	tb.Helper()
	srv, err := Start(Options{Port: -1, StoreDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}

// NewTestJetStream starts a test server (NewTest) and connects to it; the
// connection is closed when the test ends.
func NewTestJetStream(tb testing.TB) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	srv := NewTest(tb)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return nc, js
}
