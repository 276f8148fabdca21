package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/platformportal/portal/platform/pgtest"
)

// BenchmarkFleetStartup14 and BenchmarkFleetStartup200 measure the time from
// the first create to every agent RUNNING (ready, as its readiness endpoint
// says), through the REST API with the process driver: per agent, create,
// provision, deploy and start, 32 agents at a time.
func BenchmarkFleetStartup14(b *testing.B)  { benchFleetStartup(b, 14) }
func BenchmarkFleetStartup200(b *testing.B) { benchFleetStartup(b, 200) }

func benchFleetStartup(b *testing.B, n int) {
	for range b.N {
		p := startPortal(b, pgtest.NewDatabase(b), b.TempDir(), map[string]string{
			"PROVISIONING_PORT_LOW": "46000", "PROVISIONING_PORT_HIGH": "46999"})
		b.ResetTimer()
		start := time.Now()
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				a := create(b, p.base, fmt.Sprintf("fleet-%03d", i))
				for _, action := range []string{"provision", "deploy", "start"} {
					a = act(b, p.base, a, action)
				}
				if a.State != "AGENT_STATE_RUNNING" {
					b.Errorf("agent %s is %s: %+v", a.Name, a.State, a.Error)
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(elapsed.Seconds(), "s-to-all-running")
		b.ReportMetric(float64(n), "agents")
		p.stop()
	}
}

// BenchmarkCrashToReady kills the process of each of 10 running agents with
// SIGKILL and measures how long the supervisor takes to have a new one
// ready. Each agent is killed once: repeated kills of one agent are a crash
// loop, which backs off on purpose.
func BenchmarkCrashToReady(b *testing.B) {
	p := startPortal(b, pgtest.NewDatabase(b), b.TempDir(), nil)
	type instance struct {
		Handle string `json:"handle"`
		Addr   string `json:"addr"`
	}
	read := func(id string) instance {
		var w struct {
			Workload struct {
				Instances []instance `json:"instances"`
			} `json:"workload"`
		}
		call(b, "GET", p.base+"/api/v1/agents/"+id+"/workload", nil, &w)
		return w.Workload.Instances[0]
	}
	client := http.Client{Timeout: 200 * time.Millisecond}
	ready := func(addr string) bool {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	var times []time.Duration
	for n := range b.N {
		var ids []string
		for i := range 10 {
			a := create(b, p.base, fmt.Sprintf("crash-%d-%d", n, i))
			for _, action := range []string{"provision", "deploy", "start"} {
				a = act(b, p.base, a, action)
			}
			ids = append(ids, a.ID)
		}
		for _, id := range ids {
			in := read(id)
			pid, err := strconv.Atoi(in.Handle)
			if err != nil {
				b.Fatalf("instance %+v has no pid", in)
			}
			killed := time.Now()
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			for {
				// The new process's readiness is what counts; the workload's
				// view says which process that is.
				now := read(id)
				if now.Handle != "" && now.Handle != in.Handle && ready(now.Addr) {
					times = append(times, time.Since(killed))
					break
				}
				if ctx.Err() != nil {
					b.Fatalf("not ready 10s after kill -9: %+v", now)
				}
				time.Sleep(2 * time.Millisecond)
			}
			cancel()
		}
	}
	slices.Sort(times)
	b.ReportMetric(ms(percentile(times, 0.5)), "p50-ms")
	b.ReportMetric(ms(percentile(times, 1)), "max-ms")
}
