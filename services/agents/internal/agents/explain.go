package agents

import (
	"fmt"
	"maps"
	"time"
)

// explanation is what the platform knows about a failure code.
type explanation struct {
	cause       string
	suggestions []Suggestion
}

var (
	suggestRestart = Suggestion{ID: "restart", Title: "Restart the agent",
		Description: "Start every instance again; a transient cause may have passed.", Action: Restart}
	suggestReprovision = Suggestion{ID: "reprovision", Title: "Provision again",
		Description: "Reserve the runtime again (new ports), then deploy and start.", Action: Provision}
	suggestRedeploy = Suggestion{ID: "redeploy", Title: "Deploy again",
		Description: "Create the workload again from the current settings.", Action: Deploy}
	suggestStop = Suggestion{ID: "stop", Title: "Stop the agent",
		Description: "Stop it from crashing over and over while you investigate.", Action: Stop}
	suggestRollback = Suggestion{ID: "rollback-config", Title: "Roll back the last config change and restart",
		Description: "Restore the configuration as it was before its last change, then restart.", Action: Restart, RollbackConfig: true}
)

func viewLogs(a *Agent) Suggestion {
	return Suggestion{ID: "view-logs", Title: "View the logs",
		Description: "Read the warnings and errors the agent wrote before it failed.",
		Link:        fmt.Sprintf("/api/v1/agents/%s/logs?min_level=warn", a.ID)}
}

// explanations maps failure codes to their usual cause and the actions that
// fix it, first the likeliest.
var explanations = map[string]func(a *Agent, d map[string]string) explanation{
	"BINARY_NOT_FOUND": func(a *Agent, d map[string]string) explanation {
		return explanation{
			cause: fmt.Sprintf("The agent program %q does not exist or is not executable where the agent runs. "+
				"Install it (make build puts it in bin/) or set the agent's runtime image to the right path.", d["binary"]),
			suggestions: []Suggestion{suggestReprovision},
		}
	},
	"IMAGE_NOT_FOUND": func(a *Agent, d map[string]string) explanation {
		return explanation{cause: "The container image does not exist or cannot be pulled. Check the agent's runtime image name and tag.",
			suggestions: []Suggestion{suggestRedeploy}}
	},
	"PORT_IN_USE": func(a *Agent, d map[string]string) explanation {
		return explanation{
			cause: fmt.Sprintf("Another program listens on port %s, reserved for this agent. "+
				"Provisioning again reserves ports that are free now.", d["port"]),
			suggestions: []Suggestion{{ID: "pick-another-port", Title: "Pick another port",
				Description: "Provision again: the platform reserves free ports, then deploy and start.", Action: Provision}},
		}
	},
	"INVALID_LIMITS": func(a *Agent, d map[string]string) explanation {
		return explanation{
			cause: "The agent's resource limits cannot work (too little memory or CPU to start, or replicas below one). " +
				"Change the agent's runtime limits (UpdateAgent with update_mask \"runtime\"), then provision again.",
			suggestions: []Suggestion{suggestReprovision},
		}
	},
	"CRASH_LOOP": func(a *Agent, d map[string]string) explanation {
		s := []Suggestion{viewLogs(a)}
		if a.PreviousConfig != nil {
			s = append(s, suggestRollback)
		}
		return explanation{
			cause: "The agent keeps exiting soon after it starts. The logs usually say why: a bad configuration value, " +
				"a dependency it cannot reach, or a bug in this version.",
			suggestions: append(s, suggestRestart, suggestStop),
		}
	},
	"EXITED_ON_START": func(a *Agent, d map[string]string) explanation {
		s := []Suggestion{viewLogs(a)}
		if a.PreviousConfig != nil {
			s = append(s, suggestRollback)
		}
		return explanation{cause: "The agent exited before it became ready; its last lines are in the details.",
			suggestions: append(s, suggestRestart)}
	},
	"NOT_READY": func(a *Agent, d map[string]string) explanation {
		return explanation{
			cause: "The agent started but never reported ready in time: it may be waiting for a dependency, " +
				"or configured to refuse readiness.",
			suggestions: []Suggestion{viewLogs(a), suggestRestart},
		}
	},
	"RUNTIME_UNAVAILABLE": func(a *Agent, d map[string]string) explanation {
		return explanation{cause: "The runtime (provisioning service, Docker engine or Kubernetes API) could not be reached. " +
			"Retry once it is back.", suggestions: []Suggestion{suggestRestart}}
	},
}

// explain turns a runtime failure into what an operator sees.
func explain(a *Agent, action Action, err error, now time.Time) *Failure {
	re, ok := err.(*RuntimeError)
	if !ok {
		re = &RuntimeError{Class: "transient", Code: "INTERNAL", Message: err.Error()}
	}
	f := &Failure{Class: re.Class, Code: re.Code, Message: re.Message, Details: maps.Clone(re.Details), Time: now, Action: action}
	if ex, ok := explanations[re.Code]; ok {
		e := ex(a, re.Details)
		f.ProbableCause, f.Suggestions = e.cause, e.suggestions
	} else {
		f.ProbableCause = "The platform does not recognise this failure; the message and details are all it knows."
		f.Suggestions = []Suggestion{viewLogs(a), suggestRestart}
	}
	// Offer only what the ERRORED state allows, plus revoking.
	kept := f.Suggestions[:0]
	for _, s := range f.Suggestions {
		if s.Action == "" {
			kept = append(kept, s)
		} else if _, err := Next(Errored, s.Action); err == nil {
			kept = append(kept, s)
		}
	}
	f.Suggestions = append(kept, Suggestion{ID: "revoke", Title: "Revoke the agent",
		Description: "Tear it down for good.", Action: Revoke})
	return f
}
