// Package provisioning runs agents' workloads through a driver and keeps what
// it did (the spec, reserved ports, the desired state, the last failure) so
// that a restart of the service can bring running agents back.
//
// The spec is the WorkloadSpec protobuf message itself: it is the contract
// between the agents service and this one, with nothing to translate.
package provisioning

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/platformportal/portal/platform/errs"
	pb "github.com/platformportal/portal/proto/gen/go/portal/provisioning/v1"
	"github.com/platformportal/portal/services/provisioning/internal/driver"
)

// Desired states, as stored.
const (
	Provisioned = "PROVISIONED"
	Deployed    = "DEPLOYED"
	Running     = "RUNNING"
	Suspended   = "SUSPENDED"
	Stopped     = "STOPPED"
)

// Record is a stored workload.
type Record struct {
	Spec        *pb.WorkloadSpec
	Desired     string
	LastFailure *pb.Failure
	UpdateTime  time.Time
}

// Store keeps workloads and their port reservations.
type Store interface {
	// Provision creates or replaces the record of spec.AgentId in the
	// PROVISIONED state and reserves a port per replica (keeping those it
	// has), choosing among free ports in [lo, hi]. It returns the spec with
	// its ports. ResourceExhausted when the range has no free port left.
	Provision(ctx context.Context, spec *pb.WorkloadSpec, lo, hi int, free func(port int) bool) (*Record, error)
	// Get returns a record. NotFound when there is none.
	Get(ctx context.Context, agentID string) (*Record, error)
	// SetDesired records a new desired state and clears the last failure.
	SetDesired(ctx context.Context, agentID, desired string) error
	// RecordFailure keeps f as the last failure and publishes ev with it.
	RecordFailure(ctx context.Context, agentID string, f *pb.Failure, ev *pb.WorkloadFailed) error
	// Delete removes a record and its ports; a missing record is fine.
	Delete(ctx context.Context, agentID string) error
	// ListDesired returns the records in one of the desired states.
	ListDesired(ctx context.Context, states ...string) ([]*Record, error)
	// PublishInstance publishes an InstanceChanged event.
	PublishInstance(ctx context.Context, ev *pb.InstanceChanged) error
}

// Config holds the service's defaults.
type Config struct {
	// Images are the default image (or binary path) per driver.
	Images map[pb.Driver]string
	// PortLow and PortHigh bound the host ports handed to instances.
	PortLow, PortHigh int
	// StartTimeout bounds a start when the request gives none.
	StartTimeout time.Duration
	// NATSURL is given to agents to take tasks from.
	NATSURL string
}

// Service runs workloads.
type Service struct {
	store   Store
	drivers map[pb.Driver]driver.Driver
	cfg     Config
	logger  *slog.Logger
	free    func(port int) bool
	// locks serialise the work on one workload (a request and the reconcile
	// at start-up must not interleave); different workloads go in parallel.
	locks sync.Map // agent id -> *sync.Mutex
}

func (s *Service) lock(agentID string) func() {
	m, _ := s.locks.LoadOrStore(agentID, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// New returns a service over store using drivers; free reports whether a
// host port can be handed out.
func New(store Store, drivers map[pb.Driver]driver.Driver, cfg Config, free func(int) bool, logger *slog.Logger) *Service {
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	return &Service{store: store, drivers: drivers, cfg: cfg, logger: logger, free: free}
}

// Provision records spec and reserves its ports.
func (s *Service) Provision(ctx context.Context, spec *pb.WorkloadSpec) (*pb.Workload, error) {
	spec = proto.CloneOf(spec)
	if spec.GetDriver() == pb.Driver_DRIVER_UNSPECIFIED {
		spec.Driver = pb.Driver_DRIVER_PROCESS
	}
	if _, ok := s.drivers[spec.GetDriver()]; !ok {
		return nil, errs.E(errs.FailedPrecondition, "DRIVER_NOT_CONFIGURED",
			"the %s driver is not configured on this platform", driverName(spec.GetDriver())).With("class", string(driver.Configuration))
	}
	if spec.GetReplicas() == 0 {
		spec.Replicas = 1
	}
	if spec.GetImage() == "" {
		spec.Image = s.cfg.Images[spec.GetDriver()]
	}
	defer s.lock(spec.GetAgentId())()
	rec, err := s.store.Provision(ctx, spec, s.cfg.PortLow, s.cfg.PortHigh, s.free)
	if err != nil {
		return nil, fmt.Errorf("provision workload of agent %s: %w", spec.GetAgentId(), err)
	}
	return s.workload(ctx, rec)
}

// Deploy creates the workload's resources.
func (s *Service) Deploy(ctx context.Context, agentID string) (*pb.Workload, error) {
	return s.apply(ctx, agentID, Deployed, func(d driver.Driver, w *driver.Workload) error { return d.Deploy(ctx, w) })
}

// Start runs the workload and waits for it to be ready, within timeout (the
// default when zero). A failed start is stopped again, so nothing is left
// half-running.
func (s *Service) Start(ctx context.Context, agentID string, timeout time.Duration) (*pb.Workload, error) {
	if timeout <= 0 {
		timeout = s.cfg.StartTimeout
	}
	return s.apply(ctx, agentID, Running, func(d driver.Driver, w *driver.Workload) error {
		sctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := d.Start(sctx, w); err != nil {
			if serr := d.Stop(context.WithoutCancel(ctx), w); serr != nil {
				s.logger.Warn("could not stop a failed start", "agent_id", agentID, "error", serr)
			}
			return err
		}
		return nil
	})
}

// Stop stops the workload.
func (s *Service) Stop(ctx context.Context, agentID string) (*pb.Workload, error) {
	return s.apply(ctx, agentID, Stopped, func(d driver.Driver, w *driver.Workload) error { return d.Stop(ctx, w) })
}

// Suspend stops the workload taking work.
func (s *Service) Suspend(ctx context.Context, agentID string) (*pb.Workload, error) {
	return s.apply(ctx, agentID, Suspended, func(d driver.Driver, w *driver.Workload) error { return d.Suspend(ctx, w) })
}

// Resume undoes Suspend.
func (s *Service) Resume(ctx context.Context, agentID string) (*pb.Workload, error) {
	return s.apply(ctx, agentID, Running, func(d driver.Driver, w *driver.Workload) error { return d.Resume(ctx, w) })
}

// Restart replaces the instances one at a time.
func (s *Service) Restart(ctx context.Context, agentID string, timeout time.Duration) (*pb.Workload, error) {
	if timeout <= 0 {
		timeout = s.cfg.StartTimeout
	}
	return s.apply(ctx, agentID, Running, func(d driver.Driver, w *driver.Workload) error {
		rctx, cancel := context.WithTimeout(ctx, timeout*time.Duration(max(1, w.Replicas)))
		defer cancel()
		// A stopped or errored workload has nothing to roll: start it.
		ins, err := d.Instances(rctx, w)
		if err != nil {
			return err
		}
		running := 0
		for _, in := range ins {
			if in.State != driver.InstanceStopped {
				running++
			}
		}
		if running == 0 {
			return d.Start(rctx, w)
		}
		return d.Restart(rctx, w)
	})
}

// Remove tears the workload down and releases its ports.
func (s *Service) Remove(ctx context.Context, agentID string) error {
	defer s.lock(agentID)()
	rec, err := s.store.Get(ctx, agentID)
	if errs.Is(err, errs.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	d, w, err := s.driverFor(rec)
	if err != nil {
		return err
	}
	if err := d.Remove(ctx, w); err != nil {
		return s.failed(ctx, agentID, err)
	}
	return s.store.Delete(ctx, agentID)
}

// Get returns the workload with its instances.
func (s *Service) Get(ctx context.Context, agentID string) (*pb.Workload, error) {
	rec, err := s.store.Get(ctx, agentID)
	if err != nil {
		return nil, err
	}
	return s.workload(ctx, rec)
}

// Logs returns recent log lines.
func (s *Service) Logs(ctx context.Context, agentID string, q driver.LogQuery) ([]driver.LogLine, error) {
	rec, err := s.store.Get(ctx, agentID)
	if err != nil {
		return nil, err
	}
	d, w, err := s.driverFor(rec)
	if err != nil {
		return nil, err
	}
	return d.Logs(ctx, w, q)
}

// Reconcile brings back what should run: after a restart of the service,
// workloads whose desired state is RUNNING or SUSPENDED are started again.
// Failures are recorded and published, not returned.
func (s *Service) Reconcile(ctx context.Context) error {
	recs, err := s.store.ListDesired(ctx, Running, Suspended)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	for _, rec := range recs {
		s.bringBack(ctx, rec)
	}
	return nil
}

func (s *Service) bringBack(ctx context.Context, rec *Record) {
	id := rec.Spec.GetAgentId()
	defer s.lock(id)()
	d, w, err := s.driverFor(rec)
	if err != nil {
		s.logger.Warn("cannot bring a workload back", "agent_id", id, "error", err)
		return
	}
	sctx, cancel := context.WithTimeout(ctx, s.cfg.StartTimeout)
	defer cancel()
	if err := d.Start(sctx, w); err != nil {
		d.Stop(context.WithoutCancel(ctx), w) //nolint:errcheck // best effort: nothing half-running
		s.logger.Warn("could not bring a workload back", "agent_id", id, "error", s.failed(ctx, id, err))
		return
	}
	if rec.Desired == Suspended {
		if err := d.Suspend(ctx, w); err != nil {
			s.logger.Warn("could not suspend a workload again", "agent_id", id, "error", err)
		}
	}
	s.logger.Info("workload brought back", "agent_id", id, "desired_state", rec.Desired)
}

// CrashLoop records a failure a driver noticed on its own.
func (s *Service) CrashLoop(ctx context.Context, agentID string, f *driver.Failure) {
	if err := s.failed(ctx, agentID, f); err != nil {
		s.logger.Warn("workload failed", "agent_id", agentID, "error", err)
	}
}

func (s *Service) apply(ctx context.Context, agentID, desired string, fn func(driver.Driver, *driver.Workload) error) (*pb.Workload, error) {
	defer s.lock(agentID)()
	rec, err := s.store.Get(ctx, agentID)
	if err != nil {
		return nil, err
	}
	d, w, err := s.driverFor(rec)
	if err != nil {
		return nil, err
	}
	if err := fn(d, w); err != nil {
		return nil, s.failed(ctx, agentID, err)
	}
	if err := s.store.SetDesired(ctx, agentID, desired); err != nil {
		return nil, err
	}
	rec.Desired, rec.LastFailure = desired, nil
	return s.workload(ctx, rec)
}

// failed records a classified failure and returns it as an error the caller
// can read: the code as the reason, the class and details as metadata.
func (s *Service) failed(ctx context.Context, agentID string, err error) error {
	f, ok := driver.AsFailure(err)
	if !ok {
		return err
	}
	pf := &pb.Failure{Class: string(f.Class), Code: f.Code, Message: f.Message, Details: maps.Clone(f.Details)}
	if rerr := s.store.RecordFailure(ctx, agentID, pf, &pb.WorkloadFailed{AgentId: agentID, Failure: pf}); rerr != nil {
		s.logger.Warn("could not record a workload failure", "agent_id", agentID, "error", rerr)
	}
	kind := errs.Unavailable
	if f.Class == driver.Configuration || f.Class == driver.Permanent {
		kind = errs.FailedPrecondition
	}
	e := errs.E(kind, f.Code, "%s", f.Error()).With("class", string(f.Class))
	for k, v := range f.Details {
		e = e.With(k, v)
	}
	return e
}

func (s *Service) driverFor(rec *Record) (driver.Driver, *driver.Workload, error) {
	spec := rec.Spec
	d, ok := s.drivers[spec.GetDriver()]
	if !ok {
		return nil, nil, errs.E(errs.FailedPrecondition, "DRIVER_NOT_CONFIGURED",
			"the %s driver is not configured on this platform", driverName(spec.GetDriver()))
	}
	w := &driver.Workload{
		AgentID: spec.GetAgentId(), Name: spec.GetName(), Kind: spec.GetKind(), Version: spec.GetVersion(),
		Replicas: int(spec.GetReplicas()), Image: spec.GetImage(), Env: maps.Clone(spec.GetEnv()),
		Labels: maps.Clone(spec.GetLabels()), NATSURL: s.cfg.NATSURL,
		Resources: driver.Resources{CPUMillis: spec.GetResources().GetCpuMillis(), MemoryBytes: spec.GetResources().GetMemoryBytes()},
	}
	if spec.GetConfig() != nil {
		w.Config = spec.GetConfig().AsMap()
	}
	for _, p := range spec.GetPorts() {
		w.Ports = append(w.Ports, int(p))
	}
	return d, w, nil
}

func (s *Service) workload(ctx context.Context, rec *Record) (*pb.Workload, error) {
	out := &pb.Workload{Spec: rec.Spec, DesiredState: pb.DesiredState(pb.DesiredState_value["DESIRED_STATE_"+rec.Desired]),
		LastFailure: rec.LastFailure, UpdateTime: timestamppb.New(rec.UpdateTime)}
	d, w, err := s.driverFor(rec)
	if err != nil {
		return out, nil //nolint:nilerr // a record whose driver is gone still reads
	}
	ins, err := d.Instances(ctx, w)
	if err != nil {
		return nil, fmt.Errorf("instances of agent %s: %w", rec.Spec.GetAgentId(), err)
	}
	for _, in := range ins {
		out.Instances = append(out.Instances, InstanceToProto(in))
	}
	return out, nil
}

// InstanceToProto converts a driver instance.
func InstanceToProto(in driver.Instance) *pb.Instance {
	p := &pb.Instance{Id: in.ID, State: string(in.State), Handle: in.Handle, Addr: in.Addr,
		Restarts: int32(in.Restarts), LastExit: in.LastExit}
	if !in.StartedAt.IsZero() {
		p.StartTime = timestamppb.New(in.StartedAt)
	}
	return p
}

func driverName(d pb.Driver) string {
	switch d {
	case pb.Driver_DRIVER_PROCESS:
		return "process"
	case pb.Driver_DRIVER_DOCKER:
		return "docker"
	case pb.Driver_DRIVER_KUBERNETES:
		return "kubernetes"
	}
	return "unknown (" + strconv.Itoa(int(d)) + ")"
}
