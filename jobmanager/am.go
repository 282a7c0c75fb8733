package jobmanager

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/flinkssl"
	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/metrics"
	"github.com/amkeeper/amkeeper/internal/netaddr"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/supervisor/rmapi"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

// ResourceManager is the AM's view of the supervisor: the AM–RM protocol, which
// rmapi.Client speaks.
type ResourceManager = rmapi.ResourceManager

var _ ResourceManager = (*rmapi.Client)(nil)

// AMConfig configures one AM attempt.
type AMConfig struct {
	Conf      *conf.Config
	Election  recovery.LeaderElection
	RM        ResourceManager // nil: no supervisor (standalone AM)
	AttemptID string
	Attempt   int
	// Secret is the application secret: the AM serves its internal endpoints
	// and the REST calls that change state only to callers carrying it, and its
	// commands to TaskManagers carry it.
	Secret appsecret.Secret
	// Internal, when set, is internal TLS (security.ssl.internal.*): the
	// TaskManagers' registry (the AM's RPC endpoint, always a listener of its
	// own) is served with it and the commands to TaskManagers use it.
	Internal *flinkssl.Side
	// RESTTLS, when set, is TLS on the REST endpoint (security.ssl.rest.*);
	// with ClientAuth, a verified client certificate authorizes what the
	// secret does. TaskManagers never need the REST side's trust: the registry
	// is on the RPC endpoint.
	RESTTLS *flinkssl.Side
	// Session, when set, is handed to the supervisor at registration so it can
	// close this attempt's ZooKeeper session once it has reaped the process.
	Session *rmapi.SessionCredentials
	// TaskManagers is how many containers the leader keeps; each of
	// TaskManagerMemory bytes with Slots slots.
	TaskManagers      int
	TaskManagerMemory int64
	Slots             int
	// RESTPort overrides rest.port and rest.bind-port (a masters-file port in
	// hot-standby mode, or the port a session keeps across its attempts); the
	// port bound is the one advertised.
	RESTPort *conf.PortSpec
	// Jobs, when set, gives the AM a dispatcher (/jobs) and a checkpoint
	// coordinator that runs the jobs on the TaskManagers under each grant.
	Jobs *JobServices
	// Observer is told of each step of taking over as leader (default: nobody).
	// A *Timeline records the failover phases for GET /failover and logs them.
	Observer Observer
	// AttemptHistory, when set, returns the application's attempt history (JSON)
	// for GET /attempts.
	AttemptHistory func(ctx context.Context) ([]byte, error)
	// AllocateInterval paces Allocate heartbeats (default 200 ms).
	AllocateInterval time.Duration
	Logger           zerolog.Logger
}

// JobServices are the HA stores jobs need.
type JobServices struct {
	Graphs      recovery.JobGraphStore
	Results     recovery.JobResultStore
	Checkpoints CheckpointServices
}

// AM is one application master attempt.
type AM struct {
	cfg         AMConfig
	tms         *TaskManagers
	dispatcher  *Dispatcher  // nil without Jobs
	coordinator *Coordinator // nil without Jobs
	log         zerolog.Logger
	metrics     *prometheus.Registry // this AM's own (GET /metrics)

	mu       sync.Mutex
	addr     string // REST
	internal string // the RPC endpoint: the TaskManagers' registry
	reg      rmapi.RegisterResponse
	session  uuid.UUID // current grant, uuid.Nil when not leading
	adopted  map[string]time.Time
	owned    map[string]rmapi.Container // containers this application runs, as the AM knows them
	// ownedFresh: owned was learnt from the supervisor under the current grant.
	ownedFresh bool
	beat       chan struct{} // closed (and replaced) after each allocate heartbeat
	// unreleased are releases whose Allocate failed (no supervisor answered):
	// sent again with the next heartbeat.
	unreleased []string
}

// NewAM prepares an attempt; Run runs it.
func NewAM(cfg AMConfig) *AM {
	if cfg.AllocateInterval <= 0 {
		cfg.AllocateInterval = 200 * time.Millisecond
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	log := cfg.Logger.With().Str(logging.AttemptID, cfg.AttemptID).Int(logging.Attempt, cfg.Attempt).Logger()
	a := &AM{
		cfg:     cfg,
		tms:     NewTaskManagers(cfg.Conf.HeartbeatInterval(), cfg.Conf.HeartbeatTimeout(), log),
		log:     log,
		adopted: map[string]time.Time{},
		owned:   map[string]rmapi.Container{},
		beat:    make(chan struct{}),
	}
	a.tms.SetMaxSlots(cfg.Conf.TaskManagerMaxSlots())
	if j := cfg.Jobs; j != nil {
		interval, ok := cfg.Conf.CheckpointingInterval()
		if !ok {
			interval = 10 * time.Second
		}
		a.coordinator = NewCoordinator(a.tms, j.Checkpoints, cfg.Secret, interval, cfg.Conf.CheckpointingTimeout(), log)
		if cfg.Internal != nil {
			a.coordinator.useHTTP(cfg.Internal.HTTPClient(cfg.Conf.CheckpointingTimeout()), cfg.Secret)
		}
		if j.Graphs != nil {
			a.coordinator.RecordExecutions(j.Graphs)
		}
		if !cfg.Conf.Bool(conf.TaskManagersStandalone) {
			// Standalone TaskManagers are daemons the supervisor does not know:
			// no list says when all of them have registered, so an adoption
			// waits for the job's subtasks (or its bound), never for an empty
			// list that every registry satisfies at once.
			a.coordinator.expectContainers(a.ownedIDs)
		}
		a.dispatcher = NewDispatcher(j.Graphs, j.Results, a.coordinator.Deploy, log)
		a.dispatcher.SetMaxJobs(cfg.Conf.MaxJobs())
		if j.Checkpoints != nil {
			a.dispatcher.SetCleanup(j.Checkpoints)
		}
		a.dispatcher.OnRecovered(cfg.Observer.JobsRecovered)
		a.dispatcher.ReportHealth(a.coordinator.Health)
		a.dispatcher.reportTasks(a.coordinator.tasks)
	}
	a.metrics = newAMRegistry(a)
	if cfg.RM != nil && !cfg.Conf.Bool(conf.TaskManagersStandalone) {
		// The supervisor launches the containers: only those may register. With
		// standalone TaskManagers (daemons per host) the signature with the
		// application secret is the admission, and the slot bound.
		a.tms.SetAdmission(a.admit)
	}
	return a
}

// admit accepts a registration only for a container the supervisor launched
// for this application and still runs (as this attempt learned it from Register
// and Allocate), with exactly the slots it was launched with.
func (a *AM) admit(reg tmapi.Registration) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.owned[reg.ContainerID]
	if !ok {
		return fmt.Errorf("%w: container %q is not running for this application", tmapi.ErrUnknownContainer, reg.ContainerID)
	}
	if c.Slots != reg.Slots {
		return fmt.Errorf("%w: container %s was launched with %d slots, not %d", tmapi.ErrUnknownContainer, reg.ContainerID, c.Slots, reg.Slots)
	}
	return nil
}

// ownedIDs lists the containers the application runs, as the AM knows them;
// known is false until the AM has learnt them from the supervisor under its
// current grant (a standby's list from its start is stale).
func (a *AM) ownedIDs() (ids []string, known bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.ownedFresh {
		return nil, false
	}
	for id := range a.owned {
		ids = append(ids, id)
	}
	return ids, true
}

// Address returns the AM's REST address (http:// or https://), once Run has
// bound it.
func (a *AM) Address() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addr
}

// InternalAddress returns the address of the AM's RPC endpoint, the
// TaskManagers' registry (registration, heartbeats), published as the resource
// manager's: jobmanager.rpc.address with the port bound from
// high-availability.jobmanager.port.
func (a *AM) InternalAddress() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.internal
}

// Run serves, registers with the supervisor, and contends for leadership until
// ctx ends. Only while leading does it allocate containers.
func (a *AM) Run(ctx context.Context) error {
	l, err := a.listen()
	if err != nil {
		return err
	}
	if a.cfg.RESTTLS != nil {
		l = tls.NewListener(l, a.cfg.RESTTLS.Server)
	}
	defer serve(l, a.handler())()
	// The TaskManagers' endpoint is always a listener of its own: it binds
	// jobmanager.bind-host, so REST can stay on loopback while TaskManagers on
	// other hosts reach the AM (and the reverse).
	il, err := netaddr.Listen(a.cfg.Conf.JobManagerBindHost(), a.cfg.Conf.JobManagerPort(),
		netaddr.Keys{Host: bindHostKey(a.cfg.Conf), Port: conf.HAJobManagerPort.Key()})
	if err != nil {
		return fmt.Errorf("am: the RPC endpoint: %w", err)
	}
	_, port, _ := net.SplitHostPort(il.Addr().String())
	if a.cfg.Internal != nil {
		il = tls.NewListener(il, a.cfg.Internal.Server)
	}
	a.mu.Lock()
	a.internal = a.cfg.Internal.Scheme() + "://" + net.JoinHostPort(a.cfg.Conf.JobManagerRPCAddress(), port)
	a.mu.Unlock()
	defer serve(il, rpcGuard(a.tms.Handler(a.cfg.Secret)))()
	a.log.Info().Str(logging.Addr, a.Address()).Str("internal_addr", a.InternalAddress()).Msg("am serving")
	if spec, ok := a.cfg.Conf.MetricsPromPort(); ok {
		addr, err := metrics.Serve(ctx, a.metrics, a.cfg.Conf.MetricsPromHost(), spec)
		if err != nil {
			return fmt.Errorf("am: %w", err)
		}
		a.log.Info().Str(logging.Addr, addr).Msg("am serving metrics at " + metrics.Path)
	}

	if a.cfg.RM != nil {
		if err := a.register(ctx); err != nil {
			return err
		}
	}
	err = a.cfg.Election.Run(ctx, a.lead)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// serve serves h on l until the returned stop is called.
func serve(l net.Listener, h http.Handler) (stop func()) {
	srv := httpjson.NewServer(h, httpjson.Limits{})
	go func() { _ = srv.Serve(l) }()
	return func() {
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(shutdown) != nil {
			// A connection still busy, or dialed and never used (Shutdown
			// waits 5 s for those): close them all, so none outlives Run.
			_ = srv.Close()
		}
	}
}

// listen binds rest.bind-address (default: rest.address, loopback) on the first
// free port of rest.bind-port (default rest.port; AMConfig.RESTPort — a
// masters-file port, or the port a session keeps — overrides both); the AM
// advertises rest.address with the bound port, as in Flink.
func (a *AM) listen() (net.Listener, error) {
	spec, portKey := a.cfg.Conf.RESTBindPort(), conf.RESTPort.Key()
	if a.cfg.Conf.String(conf.RESTBindPort) != "" {
		portKey = conf.RESTBindPort.Key()
	}
	if a.cfg.RESTPort != nil {
		spec, portKey = *a.cfg.RESTPort, "--rest-port (the session's kept port, or a masters-file port)"
	}
	hostKey := conf.RESTAddress.Key()
	if a.cfg.Conf.RESTBindAddress() != a.cfg.Conf.RESTAddress() {
		hostKey = conf.RESTBindAddress.Key()
	}
	l, err := netaddr.Listen(a.cfg.Conf.RESTBindAddress(), spec, netaddr.Keys{Host: hostKey, Port: portKey})
	if err != nil {
		return nil, fmt.Errorf("am: the REST endpoint: %w", err)
	}
	_, bound, _ := net.SplitHostPort(l.Addr().String())
	a.mu.Lock()
	a.addr = a.cfg.RESTTLS.Scheme() + "://" + net.JoinHostPort(a.cfg.Conf.RESTAddress(), bound)
	a.mu.Unlock()
	return l, nil
}

// bindHostKey names the key that chose the RPC endpoint's bind host.
func bindHostKey(c *conf.Config) string {
	if c.String(conf.JobManagerBindHost) != "" {
		return conf.JobManagerBindHost.Key()
	}
	return conf.JobManagerRPCAddress.Key()
}

// adopt takes the supervisor's view of the live containers this attempt did not
// allocate: each must re-register within the registration timeout, counted from
// now. Containers of other attempts that are no longer live are forgotten.
func (a *AM) adopt(reg rmapi.RegisterResponse) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reg = reg
	live := map[string]bool{}
	deadline := time.Now().Add(a.cfg.Conf.TaskManagerRegistrationTimeout())
	for _, c := range reg.PreviousContainers {
		live[c.ID] = true
		if _, ok := a.owned[c.ID]; !ok {
			a.owned[c.ID] = c
			a.adopted[c.ID] = deadline
		}
	}
	for id, c := range a.owned {
		if c.Attempt != a.cfg.Attempt && !live[id] {
			delete(a.owned, id)
			delete(a.adopted, id)
		}
	}
	a.log.Info().Int("previous_containers", len(reg.PreviousContainers)).Int("max_attempts", reg.MaxAttempts).
		Msg("registered with the supervisor")
}

func (a *AM) register(ctx context.Context) error {
	host := a.cfg.Conf.RESTAddress()
	reg, err := a.cfg.RM.Register(ctx, rmapi.RegisterRequest{AttemptID: a.cfg.AttemptID, Host: host,
		RESTAddress: a.Address(), Session: a.cfg.Session})
	if err != nil {
		return fmt.Errorf("am: register with the supervisor: %w", err)
	}
	a.adopt(reg)
	return nil
}

// lead runs one leadership grant.
func (a *AM) lead(g recovery.Grant) {
	log := a.log.With().Str(logging.LeaderSession, g.SessionID().String()).Logger()
	a.cfg.Observer.Granted(log)
	a.mu.Lock()
	a.ownedFresh = false // until registered again under this grant
	a.mu.Unlock()
	a.tms.SetLeader(g.SessionID())
	// The dispatcher takes the grant before anything is published, so a client
	// that finds this leader is answered at once (503 until the stored jobs are
	// listed, which a client retries).
	var gaveUp <-chan struct{} // closed when the dispatcher cannot recover the jobs: give the grant up
	if d := a.dispatcher; d != nil {
		dctx, stop := context.WithCancel(g.Context())
		defer d.Start(dctx, g)()
		swept := make(chan struct{})
		defer func() { <-swept }()
		defer stop() // runs first: the dispatcher stops even if lead returns early
		gaveUp = d.GaveUp()
		recovered := d.recoveredSignal()
		go func() {
			defer close(swept)
			a.coordinator.cancelUnknown(dctx, g, recovered, d.runs, log)
		}()
	}
	if !a.confirm(g, log) {
		return
	}
	a.mu.Lock()
	a.session = g.SessionID()
	a.mu.Unlock()
	defer func() {
		a.tms.SetLeader(uuid.Nil)
		a.mu.Lock()
		a.session = uuid.Nil
		a.mu.Unlock()
	}()
	log.Info().Msg("leading: resource manager, dispatcher and REST server published")
	a.cfg.Observer.Published()
	if a.cfg.RM == nil {
		select {
		case <-g.Done():
		case <-gaveUp:
			log.Error().Msg("giving the grant up: the stored jobs cannot be recovered")
		}
		return
	}
	// The supervisor learns who leads from the AMs themselves: one report when
	// the grant starts, one when it ends (deferred: it runs after the grant's
	// context is done, so it gets a fresh, bounded one).
	a.reportLeadership(g.Context(), true, log)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		a.reportLeadership(ctx, false, log)
	}()
	// What is live now may differ from what was live when this attempt started
	// (a standby that just took over): learn it again, deadlines from now.
	if err := a.register(g.Context()); err != nil {
		log.Error().Err(err).Msg("cannot re-register with the supervisor")
		return
	}
	a.mu.Lock()
	a.ownedFresh = true
	a.mu.Unlock()
	first := a.heartbeat()
	reported := make(chan struct{})
	go func() { defer close(reported); a.reportProgress(g, first) }()
	defer func() { <-reported }()
	tick := time.NewTicker(a.cfg.AllocateInterval)
	defer tick.Stop()
	away := false // the supervisor does not answer (it died; a new one may come)
	for {
		err := a.allocate(g.Context())
		if errors.Is(err, rmapi.ErrNotRegistered) && g.Err() == nil {
			// A restarted supervisor adopted this attempt: register again with
			// the session credentials and report the grant (YARN's resync).
			log.Info().Msg("the supervisor asks this attempt to register again: resyncing")
			if err = a.register(g.Context()); err == nil {
				a.reportLeadership(g.Context(), true, log)
			}
		}
		switch {
		case err == nil && away:
			away = false
			log.Info().Msg("the supervisor answers again")
		case err != nil && g.Err() == nil && !away:
			// Logged once: while no supervisor runs, the jobs go on; only
			// allocating and releasing containers waits for it.
			away = true
			log.Warn().Err(err).Msg("allocate failed: retrying every heartbeat until the supervisor answers")
		}
		select {
		case <-g.Done():
			return
		case <-gaveUp:
			log.Error().Msg("giving the grant up: the stored jobs cannot be recovered")
			return
		case <-tick.C:
		}
	}
}

// confirm publishes the resource manager's, the dispatcher's and the REST
// server's connection info under g, the three at once: their writes are
// independent (each guarded by g on its own), and sent together they share the
// ZooKeeper server's log flushes instead of waiting for one each. The
// TaskManagers re-register as soon as the resource manager's is published.
// false: one could not be published (logged).
func (a *AM) confirm(g recovery.Grant, log zerolog.Logger) bool {
	components := []string{recovery.ResourceManager, recovery.Dispatcher, recovery.RestServer}
	errs := make([]error, len(components))
	var wg sync.WaitGroup
	for i, component := range components {
		addr := a.Address()
		if component == recovery.ResourceManager {
			addr = a.InternalAddress()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = g.Confirm(g.Context(), component, addr)
		}()
	}
	wg.Wait()
	ok := true
	for i, err := range errs {
		if err != nil {
			log.Error().Err(err).Str(logging.Component, components[i]).Msg("cannot confirm leadership")
			ok = false
		}
	}
	return ok
}

// reportLeadership tells the supervisor that this attempt started or stopped
// leading. A failed report is logged, not fatal: leadership itself is the
// election's, and the supervisor forgets an attempt it reaps.
func (a *AM) reportLeadership(ctx context.Context, leading bool, log zerolog.Logger) {
	err := a.cfg.RM.Leadership(ctx, rmapi.LeadershipRequest{AttemptID: a.cfg.AttemptID, Leading: leading})
	if err != nil {
		log.Warn().Err(err).Bool("leading", leading).Msg("cannot report leadership to the supervisor")
	}
}

// deployed is closed when the coordinator next deploys a job's tasks (never
// without jobs).
func (a *AM) deployed() <-chan struct{} {
	if a.coordinator == nil {
		return nil
	}
	return a.coordinator.Deployed()
}

// allocate is one Allocate heartbeat: release adopted containers that did not
// re-register in time, learn about completed ones, ask for what is missing.
func (a *AM) allocate(ctx context.Context) error {
	defer a.heartbeatDone()
	registered := map[string]bool{}
	for _, tm := range a.tms.List() {
		registered[tm.ContainerID] = true
	}
	now := time.Now()
	a.mu.Lock()
	release := a.unreleased
	a.unreleased = nil
	for id, deadline := range a.adopted {
		switch {
		case registered[id]:
			delete(a.adopted, id)
		case now.After(deadline):
			release = append(release, id)
			delete(a.adopted, id)
			delete(a.owned, id)
			a.log.Warn().Str(logging.Container, id).Msg("adopted container did not re-register in time: releasing it")
		}
	}
	missing := a.cfg.TaskManagers - len(a.owned)
	a.mu.Unlock()

	req := rmapi.AllocateRequest{AttemptID: a.cfg.AttemptID, Release: release}
	if missing > 0 {
		req.Ask = []rmapi.ResourceRequest{{Count: missing, MemoryBytes: a.cfg.TaskManagerMemory, Slots: a.cfg.Slots}}
	}
	res, err := a.cfg.RM.Allocate(ctx, req)
	if err != nil {
		a.mu.Lock()
		a.unreleased = append(a.unreleased, release...)
		a.mu.Unlock()
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range res.Allocated {
		a.owned[c.ID] = c
		a.log.Info().Str(logging.Container, c.ID).Int(logging.PID, c.PID).Msg("container allocated")
	}
	for _, c := range res.Completed {
		if _, ok := a.owned[c.ID]; ok {
			a.log.Warn().Str(logging.Container, c.ID).Int("exit_code", c.ExitCode).Str("signal", c.Signal).Msg("container completed")
		}
		delete(a.owned, c.ID)
		delete(a.adopted, c.ID)
		a.tms.Remove(c.ID)
	}
	return nil
}
