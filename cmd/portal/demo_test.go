package main

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/platformportal/portal/platform/pgtest"
)

// TestDemoFleet: `portal -demo` brings 14 agents of the six kinds to RUNNING
// and keeps them busy with tasks.
func TestDemoFleet(t *testing.T) {
	t.Parallel()
	p := startPortal(t, pgtest.NewDatabase(t), t.TempDir(), map[string]string{"PORTAL_DEMO": "true"})
	var list struct {
		Agents []agentJSON `json:"agents"`
		Total  int         `json:"totalSize"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		call(t, "GET", p.base+"/api/v1/agents?labelSelector=demo=true&states=AGENT_STATE_RUNNING&pageSize=50", nil, &list)
		if list.Total == 14 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d demo agents RUNNING after 60s; want 14", list.Total)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The task generator reaches them: their own counters move.
	tasks := regexp.MustCompile(`(?m)^agent_tasks_total\{[^}]*\} (\d+)`)
	deadline = time.Now().Add(20 * time.Second)
	for busy := 0; busy < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d demo agents processed tasks after 20s", busy)
		}
		time.Sleep(500 * time.Millisecond)
		busy = 0
		for _, a := range list.Agents {
			var w struct {
				Workload struct {
					Instances []struct {
						Addr string `json:"addr"`
					} `json:"instances"`
				} `json:"workload"`
			}
			call(t, "GET", p.base+"/api/v1/agents/"+a.ID+"/workload", nil, &w)
			resp, err := http.Get("http://" + w.Workload.Instances[0].Addr + "/metrics")
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, m := range tasks.FindAllSubmatch(b, -1) {
				if n, _ := strconv.Atoi(string(m[1])); n > 0 {
					busy++
					break
				}
			}
		}
	}
}
