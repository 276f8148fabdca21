// Command agent is the reference agent: one binary for the portal's six
// agent templates, chosen by AGENT_KIND, running under the agentkit contract.
//
//	agent              run the agent until SIGTERM or SIGINT, then drain
//	agent version      print the binary's version
//	agent healthcheck  exit 0 if http://AGENT_ADDR/readyz answers 200 (for
//	                   Docker's HEALTHCHECK), 1 otherwise
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/platformportal/portal/agentkit"
	"github.com/platformportal/portal/agentkit/internal/kinds"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal starts the drain, a second one kills at once,
	// for the operator who will not wait.
	go func() {
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	if len(args) > 1 {
		return fmt.Errorf("%s: unexpected arguments %q", cmd, args[1:])
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, agentkit.Version)
		return nil
	case "healthcheck":
		return healthcheck(ctx, getenv, stdout)
	case "serve":
	default:
		return fmt.Errorf("unknown command %q: want serve, version or healthcheck", cmd)
	}

	name := getenv("AGENT_KIND")
	if name == "" {
		return errors.New("AGENT_KIND is required")
	}
	kind, err := kinds.New(name)
	if err != nil {
		return fmt.Errorf("AGENT_KIND: %w", err)
	}
	return agentkit.Run(ctx, agentkit.Options{
		Getenv:         getenv,
		Stdout:         stdout,
		Handler:        kind.Handler,
		ValidateConfig: kind.ValidateConfig,
	})
}

// healthcheck asks the agent running beside it (same AGENT_ADDR) whether it
// is ready.
func healthcheck(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	addr := getenv("AGENT_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("AGENT_ADDR: %w", err)
	}
	if port == "0" {
		return errors.New("AGENT_ADDR: healthcheck needs a fixed port, not 0")
	}
	// An agent listening on all interfaces is reached on loopback.
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(host, port) + "/readyz"

	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck %s: not ready: %d %s", url, resp.StatusCode, body)
	}
	fmt.Fprintf(stdout, "%s", body)
	return nil
}
