package supervisor

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/metrics"
)

// The supervisor's metrics: the application's attempts and budget as the
// ResourceManager role sees them, and which AM leads.
var (
	descAttempt = prometheus.NewDesc("amkeeper_supervisor_attempt",
		"The number of the AM attempt started last.", nil, nil)
	descMaxAttempts = prometheus.NewDesc("amkeeper_supervisor_max_attempts",
		"The application's attempt budget (yarn.application-attempts, capped).", nil, nil)
	descAttemptsLeft = prometheus.NewDesc("amkeeper_supervisor_attempts_left",
		"Counted attempt failures the application survives now.", nil, nil)
	descCountedFailures = prometheus.NewDesc("amkeeper_supervisor_counted_failures",
		"Attempt failures that count against the budget (inside the validity interval).", nil, nil)
	descAttemptsStarted = prometheus.NewDesc("amkeeper_supervisor_attempts_started_total",
		"AM attempts started, as the attempt history records them.", nil, nil)
	descRunningAMs = prometheus.NewDesc("amkeeper_supervisor_running_ams",
		"AM processes running (several with hot standbys).", nil, nil)
	descContainers = prometheus.NewDesc("amkeeper_supervisor_running_containers",
		"TaskManager containers running.", nil, nil)
	descLeaderAttempt = prometheus.NewDesc("amkeeper_supervisor_leader_attempt",
		"The attempt number of the AM that reported it leads (0: none).", nil, nil)
	descLeadershipGrants = prometheus.NewDesc("amkeeper_supervisor_leadership_grants_total",
		"Leadership grants the AMs reported (each failover adds one).", nil, nil)
	descBackoff = prometheus.NewDesc("amkeeper_supervisor_backoff_seconds",
		"The crash-loop backoff being waited out before the next attempt (0: none).", nil, nil)
	descBackoffCrashes = prometheus.NewDesc("amkeeper_supervisor_backoff_crashes",
		"Attempts in a row that failed sooner than amkeeper.attempts.backoff.min-uptime, while backing off (0: none).", nil, nil)
	descNextStart = prometheus.NewDesc("amkeeper_supervisor_next_attempt_start_timestamp_seconds",
		"When the next attempt starts after the backoff, Unix seconds (0: not backing off).", nil, nil)
	descRunning = prometheus.NewDesc("amkeeper_supervisor_application_running",
		"1 while the application runs, 0 once it ended.", nil, nil)
)

// collector reads the supervisor's Status at each scrape.
type collector struct{ s *Supervisor }

var _ prometheus.Collector = collector{}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAttempt, descMaxAttempts, descAttemptsLeft, descCountedFailures,
		descAttemptsStarted, descRunningAMs, descContainers, descLeaderAttempt, descLeadershipGrants, descRunning,
		descBackoff, descBackoffCrashes, descNextStart} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Status()
	g := func(d *prometheus.Desc, v int) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	g(descAttempt, st.Attempt)
	g(descMaxAttempts, st.MaxAttempts)
	g(descAttemptsLeft, st.Remaining)
	g(descCountedFailures, st.CountedFailures)
	ch <- prometheus.MustNewConstMetric(descAttemptsStarted, prometheus.CounterValue, float64(len(st.History.Attempts)))
	g(descRunningAMs, len(st.AMs))
	g(descContainers, len(st.Containers))
	leader := 0
	for _, a := range st.AMs {
		if a.Leading {
			leader = a.Attempt
		}
	}
	g(descLeaderAttempt, leader)
	c.s.mu.Lock()
	grants := c.s.leadSeq
	c.s.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descLeadershipGrants, prometheus.CounterValue, float64(grants))
	var backoff, crashes, next float64
	if b := st.Backoff; b != nil {
		backoff, crashes, next = b.DelaySeconds, float64(b.Crashes), float64(b.NextStart.UnixNano())/1e9
	}
	ch <- prometheus.MustNewConstMetric(descBackoff, prometheus.GaugeValue, backoff)
	ch <- prometheus.MustNewConstMetric(descBackoffCrashes, prometheus.GaugeValue, crashes)
	ch <- prometheus.MustNewConstMetric(descNextStart, prometheus.GaugeValue, next)
	running := 0
	if st.State == "RUNNING" {
		running = 1
	}
	g(descRunning, running)
}

// serveMetrics starts the metrics.reporter.prom.port listener when configured.
func (s *Supervisor) serveMetrics(ctx context.Context) error {
	if s.cfg.MetricsPort == nil {
		return nil
	}
	addr, err := metrics.Serve(ctx, s.metrics, s.cfg.MetricsHost, *s.cfg.MetricsPort)
	if err != nil {
		return fmt.Errorf("supervisor: %w", err)
	}
	s.log.Info().Str(logging.Addr, addr).Msg("supervisor serving metrics at " + metrics.Path)
	return nil
}

// Metrics fetches the supervisor's metrics (Prometheus text) over the control
// socket.
func (c *ControlClient) Metrics(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://supervisor"+metrics.Path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.json.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("application not running (no supervisor at %s): %w", c.socket, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %d %s", metrics.Path, resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return b, err
}
