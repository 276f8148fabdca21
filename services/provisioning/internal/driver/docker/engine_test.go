package docker_test

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// fakeEngine speaks the parts of the Docker Engine API the driver uses, as
// the engine does: versioned paths after negotiation through /_ping, the same
// JSON shapes (the API module's own types), status codes (201 on create, 204
// on actions, 304 when already started or stopped, 404/409 with
// {"message": ...}), multiplexed log streams, and healthchecks that go from
// "starting" to "healthy" over successive inspects.
type fakeEngine struct {
	srv *httptest.Server
	// apiVersion is the engine's API version, lower than the client's so
	// that the client must negotiate down to it.
	apiVersion string

	mu         sync.Mutex
	images     map[string]bool     // local images, "name:tag"
	registry   map[string]bool     // images a pull can fetch
	containers map[string]*fakeCtr // by ID
	busyPorts  map[string]bool     // host ports held by processes outside the engine
	// healthyAfter is how many inspects a started container stays "starting".
	healthyAfter int
	// crash maps an image to the exit code its containers crash with.
	crash map[string]int
	// events is what happened, in order: "create portal-echo-0",
	// "restart portal-echo-1", "healthy portal-echo-1", ...
	events []string
	// requests counts every API request (not pings).
	requests int
	clock    time.Time
}

type fakeCtr struct {
	id, name     string
	created      time.Time
	config       container.Config
	host         container.HostConfig
	state        container.State
	restartCount int
	startingLeft int
	logs         []logEntry
}

type logEntry struct {
	stream byte // 1 stdout, 2 stderr
	time   time.Time
	text   string
}

func newFakeEngine(tb testing.TB) *fakeEngine {
	tb.Helper()
	e := &fakeEngine{
		apiVersion:   "1.47",
		images:       map[string]bool{},
		registry:     map[string]bool{},
		containers:   map[string]*fakeCtr{},
		busyPorts:    map[string]bool{},
		healthyAfter: 2,
		crash:        map[string]int{},
		clock:        time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
	}
	e.srv = httptest.NewServer(e)
	tb.Cleanup(e.srv.Close)
	return e
}

// client is a moby client pointed at the fake, negotiating its API version
// as it would with a real engine.
func (e *fakeEngine) client(tb testing.TB) *client.Client {
	tb.Helper()
	cli, err := client.New(client.WithHost("tcp://" + e.srv.Listener.Addr().String()))
	if err != nil {
		tb.Fatalf("client.New: %v", err)
	}
	tb.Cleanup(func() { _ = cli.Close() })
	return cli
}

func (e *fakeEngine) now() time.Time {
	e.clock = e.clock.Add(time.Millisecond)
	return e.clock
}

func (e *fakeEngine) event(format string, args ...any) {
	e.events = append(e.events, fmt.Sprintf(format, args...))
}

// Events returns a copy of the events so far.
func (e *fakeEngine) Events() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.events)
}

func (e *fakeEngine) Requests() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.requests
}

func (e *fakeEngine) byName(name string) *fakeCtr {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lookup(name)
}

var versioned = regexp.MustCompile(`^/v(1\.[0-9]+)(/.*)$`)

func (e *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_ping" {
		h := w.Header()
		h.Set("Api-Version", e.apiVersion)
		h.Set("Builder-Version", "2")
		h.Set("Docker-Experimental", "false")
		h.Set("Ostype", "linux")
		h.Set("Server", "Docker/27.5.1 (linux)")
		h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
		h.Set("Pragma", "no-cache")
		h.Set("Content-Type", "text/plain; charset=utf-8")
		if r.Method == http.MethodHead {
			h.Set("Content-Length", "0")
			return
		}
		_, _ = w.Write([]byte("OK"))
		return
	}
	m := versioned.FindStringSubmatch(r.URL.Path)
	if m == nil {
		// A client that skipped negotiation would send unversioned paths; the
		// driver must not.
		apiError(w, http.StatusNotFound, "page not found")
		return
	}
	if m[1] != e.apiVersion {
		apiError(w, http.StatusBadRequest, fmt.Sprintf("client version %s is too new. Maximum supported API version is %s", m[1], e.apiVersion))
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests++
	p := m[2]
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/images/") && strings.HasSuffix(p, "/json"):
		e.imageInspect(w, strings.TrimSuffix(strings.TrimPrefix(p, "/images/"), "/json"))
	case r.Method == http.MethodPost && p == "/images/create":
		e.imagePull(w, r)
	case r.Method == http.MethodPost && p == "/containers/create":
		e.create(w, r)
	case r.Method == http.MethodGet && p == "/containers/json":
		e.list(w, r)
	case strings.HasPrefix(p, "/containers/"):
		rest := strings.TrimPrefix(p, "/containers/")
		ref, action, _ := strings.Cut(rest, "/")
		c := e.lookup(ref)
		if c == nil {
			apiError(w, http.StatusNotFound, "No such container: "+ref)
			return
		}
		switch {
		case r.Method == http.MethodGet && action == "json":
			e.inspect(w, c)
		case r.Method == http.MethodGet && action == "logs":
			e.logs(w, r, c)
		case r.Method == http.MethodPost && action == "start":
			e.start(w, c)
		case r.Method == http.MethodPost && action == "stop":
			e.stop(w, r, c)
		case r.Method == http.MethodPost && action == "restart":
			e.restart(w, c)
		case r.Method == http.MethodPost && action == "pause":
			e.pause(w, c)
		case r.Method == http.MethodPost && action == "unpause":
			e.unpause(w, c)
		case r.Method == http.MethodDelete && action == "":
			e.remove(w, r, c)
		default:
			apiError(w, http.StatusNotFound, "page not found")
		}
	default:
		apiError(w, http.StatusNotFound, "page not found")
	}
}

// apiError writes an error as the engine does.
func apiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func withTag(ref string) string {
	if i := strings.LastIndex(ref, ":"); i < 0 || strings.Contains(ref[i:], "/") {
		return ref + ":latest"
	}
	return ref
}

func (e *fakeEngine) imageInspect(w http.ResponseWriter, ref string) {
	if !e.images[withTag(ref)] {
		apiError(w, http.StatusNotFound, "No such image: "+withTag(ref))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"Id":           "sha256:" + strings.Repeat("ab", 32),
		"RepoTags":     []string{withTag(ref)},
		"Created":      "2025-02-01T10:00:00Z",
		"Architecture": "amd64",
		"Os":           "linux",
		"Size":         12345678,
		"Config":       map[string]any{"Entrypoint": []string{"agent"}},
	})
}

func (e *fakeEngine) imagePull(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("fromImage") + ":" + r.URL.Query().Get("tag")
	if !e.registry[ref] {
		apiError(w, http.StatusNotFound, fmt.Sprintf("manifest for %s not found: manifest unknown: manifest unknown", ref))
		return
	}
	e.images[ref] = true
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	_ = enc.Encode(map[string]any{"status": "Pulling from " + r.URL.Query().Get("fromImage"), "id": r.URL.Query().Get("tag")})
	_ = enc.Encode(map[string]any{"status": "Digest: sha256:" + strings.Repeat("cd", 32)})
	_ = enc.Encode(map[string]any{"status": "Status: Downloaded newer image for " + ref})
}

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (e *fakeEngine) lookup(ref string) *fakeCtr {
	ref = strings.TrimPrefix(ref, "/")
	if c, ok := e.containers[ref]; ok {
		return c
	}
	var found *fakeCtr
	for _, c := range e.containers {
		if c.name == ref {
			return c
		}
		if len(ref) >= 12 && strings.HasPrefix(c.id, ref) {
			found = c
		}
	}
	return found
}

func (e *fakeEngine) create(w http.ResponseWriter, r *http.Request) {
	var req container.CreateRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
		return
	}
	if req.Config == nil || req.HostConfig == nil {
		apiError(w, http.StatusBadRequest, "config and host config are required")
		return
	}
	name := r.URL.Query().Get("name")
	if c := e.lookup(name); c != nil && c.name == name {
		apiError(w, http.StatusConflict, fmt.Sprintf(`Conflict. The container name "/%s" is already in use by container "%s". You have to remove (or rename) that container to be able to reuse that name.`, name, c.id))
		return
	}
	if !e.images[withTag(req.Image)] {
		apiError(w, http.StatusNotFound, "No such image: "+withTag(req.Image))
		return
	}
	if m := req.HostConfig.Memory; m != 0 && m < 6<<20 {
		apiError(w, http.StatusBadRequest, "Minimum memory limit allowed is 6MB")
		return
	}
	if n := req.HostConfig.NanoCPUs; n != 0 && (n < 1e7 || n > 2e9) {
		apiError(w, http.StatusBadRequest, "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available")
		return
	}
	c := &fakeCtr{
		id:      randomID(),
		name:    name,
		created: e.now(),
		config:  *req.Config,
		host:    *req.HostConfig,
		state: container.State{
			Status:     container.StateCreated,
			StartedAt:  "0001-01-01T00:00:00Z",
			FinishedAt: "0001-01-01T00:00:00Z",
		},
	}
	e.containers[c.id] = c
	e.event("create %s", name)
	writeJSON(w, http.StatusCreated, container.CreateResponse{ID: c.id, Warnings: []string{}})
}

func (e *fakeEngine) list(w http.ResponseWriter, r *http.Request) {
	var filters map[string]map[string]bool
	if f := r.URL.Query().Get("filters"); f != "" {
		if err := json.Unmarshal([]byte(f), &filters); err != nil {
			apiError(w, http.StatusBadRequest, "invalid filter: "+err.Error())
			return
		}
	}
	all := r.URL.Query().Get("all") == "1"
	out := []container.Summary{}
	for _, c := range e.containers {
		if !all && c.state.Status != container.StateRunning {
			continue
		}
		if !matchLabels(c.config.Labels, filters["label"]) {
			continue
		}
		s := container.Summary{
			ID:      c.id,
			Names:   []string{"/" + c.name},
			Image:   c.config.Image,
			ImageID: "sha256:" + strings.Repeat("ab", 32),
			Command: "agent " + strings.Join(c.config.Cmd, " "),
			Created: c.created.Unix(),
			Labels:  c.config.Labels,
			State:   c.state.Status,
			Status:  statusText(c.state),
			Ports:   []container.PortSummary{},
			Mounts:  []container.MountPoint{},
		}
		if c.state.Health != nil {
			s.Health = &container.HealthSummary{Status: c.state.Health.Status, FailingStreak: c.state.Health.FailingStreak}
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b container.Summary) int { return int(b.Created - a.Created) })
	writeJSON(w, http.StatusOK, out)
}

// statusText is the human status `docker ps` shows.
func statusText(st container.State) string {
	health := ""
	if st.Health != nil {
		health = " (" + string(st.Health.Status) + ")"
		if st.Health.Status == container.Starting {
			health = " (health: starting)"
		}
	}
	switch st.Status {
	case container.StateRunning:
		return "Up Less than a second" + health
	case container.StatePaused:
		return "Up Less than a second (Paused)"
	case container.StateRestarting:
		return fmt.Sprintf("Restarting (%d) Less than a second ago", st.ExitCode)
	case container.StateExited:
		return fmt.Sprintf("Exited (%d) Less than a second ago", st.ExitCode)
	}
	return "Created"
}

func matchLabels(labels map[string]string, want map[string]bool) bool {
	for f := range want {
		k, v, hasValue := strings.Cut(f, "=")
		got, ok := labels[k]
		if !ok || (hasValue && got != v) {
			return false
		}
	}
	return true
}

// advance moves a started container along on each inspect: a crashing one
// restarts under its restart policy until the policy gives up; a healthy
// one passes its healthcheck after healthyAfter inspects.
func (e *fakeEngine) advance(c *fakeCtr) {
	code, crashes := e.crash[c.config.Image]
	switch {
	case crashes && (c.state.Running || c.state.Restarting):
		c.log(2, e.now(), "panic: nats: no servers available for connection")
		if c.restartCount < c.host.RestartPolicy.MaximumRetryCount {
			c.restartCount++
			c.state.ExitCode = code
			c.state.Status = container.StateRestarting
			c.state.Running, c.state.Restarting = true, true
			return
		}
		c.state = container.State{
			Status:     container.StateExited,
			ExitCode:   code,
			StartedAt:  c.state.StartedAt,
			FinishedAt: e.now().Format(time.RFC3339Nano),
			Health:     &container.Health{Status: container.Unhealthy, FailingStreak: 0},
		}
	case c.state.Status == container.StateRunning && c.state.Health != nil && c.state.Health.Status == container.Starting:
		if c.startingLeft--; c.startingLeft <= 0 {
			c.state.Health.Status = container.Healthy
			c.state.Health.Log = append(c.state.Health.Log, &container.HealthcheckResult{
				Start: e.now(), End: e.now(), ExitCode: 0, Output: "ok",
			})
			e.event("healthy %s", c.name)
		}
	}
}

func (c *fakeCtr) log(stream byte, t time.Time, text string) {
	c.logs = append(c.logs, logEntry{stream: stream, time: t, text: text})
}

func (e *fakeEngine) inspect(w http.ResponseWriter, c *fakeCtr) {
	e.advance(c)
	st := c.state
	ports := network.PortMap{}
	if st.Running {
		ports = c.host.PortBindings
	}
	writeJSON(w, http.StatusOK, container.InspectResponse{
		ID:              c.id,
		Created:         c.created.Format(time.RFC3339Nano),
		Path:            "agent",
		Args:            c.config.Cmd,
		State:           &st,
		Image:           "sha256:" + strings.Repeat("ab", 32),
		Name:            "/" + c.name,
		RestartCount:    c.restartCount,
		Driver:          "overlay2",
		Platform:        "linux",
		HostConfig:      &c.host,
		Config:          &c.config,
		NetworkSettings: &container.NetworkSettings{Ports: ports},
		Mounts:          []container.MountPoint{},
	})
}

// hostPorts are the "ip:port" a container binds.
func hostPorts(c *fakeCtr) []string {
	var out []string
	for _, bs := range c.host.PortBindings {
		for _, b := range bs {
			out = append(out, b.HostIP.String()+":"+b.HostPort)
		}
	}
	return out
}

// run starts c's process, or fails as the engine does when its port is taken.
func (e *fakeEngine) run(w http.ResponseWriter, c *fakeCtr) bool {
	for _, hp := range hostPorts(c) {
		taken := e.busyPorts[hp]
		for _, o := range e.containers {
			if o != c && (o.state.Running || o.state.Paused) && slices.Contains(hostPorts(o), hp) {
				taken = true
			}
		}
		if taken {
			apiError(w, http.StatusInternalServerError, fmt.Sprintf(
				"failed to set up container networking: driver failed programming external connectivity on endpoint %s (%s): Bind for %s failed: port is already allocated",
				c.name, randomID(), hp))
			return false
		}
	}
	t := e.now()
	c.state = container.State{
		Status:     container.StateRunning,
		Running:    true,
		Pid:        4242,
		StartedAt:  t.Format(time.RFC3339Nano),
		FinishedAt: c.state.FinishedAt,
		ExitCode:   0,
		Health:     &container.Health{Status: container.Starting},
	}
	c.startingLeft = e.healthyAfter
	c.log(1, e.now(), `{"time":"`+t.Format(time.RFC3339)+`","level":"INFO","msg":"agent listening","addr":"0.0.0.0:8080"}`)
	c.log(1, e.now(), "connected to nats")
	c.log(2, e.now(), `{"level":"WARN","msg":"config key ignored","key":"legacy"}`)
	c.log(1, e.now(), `{"level":"DEBUG","msg":"polling"}`)
	return true
}

func (e *fakeEngine) start(w http.ResponseWriter, c *fakeCtr) {
	switch c.state.Status {
	case container.StateRunning, container.StateRestarting:
		w.WriteHeader(http.StatusNotModified)
		return
	case container.StatePaused:
		apiError(w, http.StatusConflict, "cannot start a paused container, try unpause instead")
		return
	}
	if e.run(w, c) {
		e.event("start %s", c.name)
		w.WriteHeader(http.StatusNoContent)
	}
}

func (e *fakeEngine) halt(c *fakeCtr, code int) {
	c.log(2, e.now(), "shutting down: signal terminated")
	c.state = container.State{
		Status:     container.StateExited,
		ExitCode:   code,
		StartedAt:  c.state.StartedAt,
		FinishedAt: e.now().Format(time.RFC3339Nano),
		Health:     c.state.Health,
	}
}

func (e *fakeEngine) stop(w http.ResponseWriter, r *http.Request, c *fakeCtr) {
	if !c.state.Running && !c.state.Paused {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	e.halt(c, 0)
	e.event("stop %s t=%s", c.name, r.URL.Query().Get("t"))
	w.WriteHeader(http.StatusNoContent)
}

func (e *fakeEngine) restart(w http.ResponseWriter, c *fakeCtr) {
	if c.state.Running || c.state.Paused {
		e.halt(c, 0)
	}
	// A restart the client asks for does not count in RestartCount; only the
	// restart policy's do.
	if e.run(w, c) {
		e.event("restart %s", c.name)
		w.WriteHeader(http.StatusNoContent)
	}
}

func (e *fakeEngine) pause(w http.ResponseWriter, c *fakeCtr) {
	switch {
	case c.state.Paused:
		apiError(w, http.StatusConflict, fmt.Sprintf("Container %s is already paused", c.id))
	case !c.state.Running:
		apiError(w, http.StatusConflict, fmt.Sprintf("Container %s is not running", c.id))
	default:
		c.state.Paused, c.state.Status = true, container.StatePaused
		e.event("pause %s", c.name)
		w.WriteHeader(http.StatusNoContent)
	}
}

func (e *fakeEngine) unpause(w http.ResponseWriter, c *fakeCtr) {
	if !c.state.Paused {
		apiError(w, http.StatusConflict, fmt.Sprintf("Container %s is not paused", c.id))
		return
	}
	c.state.Paused, c.state.Status = false, container.StateRunning
	e.event("unpause %s", c.name)
	w.WriteHeader(http.StatusNoContent)
}

func (e *fakeEngine) remove(w http.ResponseWriter, r *http.Request, c *fakeCtr) {
	if (c.state.Running || c.state.Paused) && r.URL.Query().Get("force") != "1" {
		apiError(w, http.StatusConflict, fmt.Sprintf(`cannot remove container "/%s": container is running: stop the container before removing or force remove`, c.name))
		return
	}
	delete(e.containers, c.id)
	e.event("remove %s", c.name)
	w.WriteHeader(http.StatusNoContent)
}

// logs writes the engine's multiplexed stream: per frame an 8-byte header
// (stream, three zero bytes, big-endian payload length) then the payload.
func (e *fakeEngine) logs(w http.ResponseWriter, r *http.Request, c *fakeCtr) {
	q := r.URL.Query()
	var entries []logEntry
	for _, l := range c.logs {
		if (l.stream == 1 && q.Get("stdout") == "1") || (l.stream == 2 && q.Get("stderr") == "1") {
			entries = append(entries, l)
		}
	}
	if tail, err := strconv.Atoi(q.Get("tail")); err == nil && tail >= 0 && tail < len(entries) {
		entries = entries[len(entries)-tail:]
	}
	w.Header().Set("Content-Type", "application/vnd.docker.multiplexed-stream")
	w.WriteHeader(http.StatusOK)
	for _, l := range entries {
		payload := l.text + "\n"
		if q.Get("timestamps") == "1" {
			payload = l.time.Format(time.RFC3339Nano) + " " + payload
		}
		var hdr [8]byte
		hdr[0] = l.stream
		binary.BigEndian.PutUint32(hdr[4:], uint32(len(payload)))
		_, _ = w.Write(hdr[:])
		_, _ = w.Write([]byte(payload))
	}
}
