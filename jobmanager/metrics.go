package jobmanager

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/metrics"
)

// connectionStater is an optional capability of the AM's LeaderElection: the
// state of its connection to the HA backend (zkha's Election has it).
type connectionStater interface {
	ConnectionState() string
}

// connectionStates are the states amkeeper_zookeeper_connection_state reports,
// one series each (1 for the current one).
var connectionStates = []string{"CONNECTED", "SUSPENDED", "RECONNECTED", "LOST", "CLOSED"}

// Metric names. Flink's are as its PrometheusReporter exposes them (scope
// flink_jobmanager_, job metrics under flink_jobmanager_job_ with job_id and
// job_name labels); amkeeper's own start with amkeeper_.
const (
	metricTaskManagers     = "flink_jobmanager_numRegisteredTaskManagers"
	metricSlotsTotal       = "flink_jobmanager_taskSlotsTotal"
	metricSlotsAvailable   = "flink_jobmanager_taskSlotsAvailable"
	metricRunningJobs      = "flink_jobmanager_numRunningJobs"
	metricNumRestarts      = "flink_jobmanager_job_numRestarts"
	metricUptime           = "flink_jobmanager_job_uptime"
	metricLastCPDuration   = "flink_jobmanager_job_lastCheckpointDuration"
	metricLastCPSize       = "flink_jobmanager_job_lastCheckpointSize"
	metricCompletedCPs     = "flink_jobmanager_job_numberOfCompletedCheckpoints"
	metricFailedCPs        = "flink_jobmanager_job_numberOfFailedCheckpoints"
	metricAttempt          = "amkeeper_am_attempt"
	metricMaxAttempts      = "amkeeper_am_max_attempts"
	metricAttemptsLeft     = "amkeeper_am_attempts_left"
	metricLeader           = "amkeeper_am_leader"
	metricFailoverPhase    = "amkeeper_failover_phase_seconds"
	metricZKConnectionStat = "amkeeper_zookeeper_connection_state"
	metricTakeovers        = "amkeeper_job_takeovers_total"
)

// phaseBuckets are the failover phase histogram's buckets, in seconds.
var phaseBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descTaskManagers   = desc(metricTaskManagers, "TaskManagers registered with this AM.")
	descSlotsTotal     = desc(metricSlotsTotal, "Slots of the registered TaskManagers.")
	descSlotsAvailable = desc(metricSlotsAvailable, "Slots no deployed subtask takes.")
	descRunningJobs    = desc(metricRunningJobs, "Jobs of this leader not finished (running or restarting).")
	descNumRestarts    = desc(metricNumRestarts, "Restarts of the job by this AM process: each redeploy after a failure, and a takeover from an earlier leader's checkpoint.", "job_id", "job_name")
	descUptime         = desc(metricUptime, "Milliseconds since the job was submitted, while it runs here.", "job_id", "job_name")
	descLastCPDuration = desc(metricLastCPDuration, "Milliseconds the job's last completed checkpoint took.", "job_id", "job_name")
	descLastCPSize     = desc(metricLastCPSize, "Bytes of the job's last completed checkpoint's metadata.", "job_id", "job_name")
	descCompletedCPs   = desc(metricCompletedCPs, "Checkpoints of the job completed by this AM process.", "job_id", "job_name")
	descFailedCPs      = desc(metricFailedCPs, "Checkpoints of the job that failed under this AM process.", "job_id", "job_name")
	descAttempt        = desc(metricAttempt, "This AM's attempt number.")
	descMaxAttempts    = desc(metricMaxAttempts, "The application's attempt budget, as the supervisor granted it (0: not registered).")
	descAttemptsLeft   = desc(metricAttemptsLeft, "Attempts the budget allows after this one.")
	descLeader         = desc(metricLeader, "1 while this AM holds the leadership grant.")
	descFailoverPhase  = desc(metricFailoverPhase, "Seconds from the previous attempt's exit (or this process's start) until this AM reached each phase of taking over.", "phase")
	descZKState        = desc(metricZKConnectionStat, "1 for the current state of the HA services' ZooKeeper connection.", "state")
	descTakeovers      = desc(metricTakeovers, "Jobs this AM process took over on becoming leader, by outcome: adopted (tasks kept running), restored (redeployed from a checkpoint), started (never ran before).", "outcome")
)

// amCollector reads the AM's state at each scrape; it keeps nothing itself.
type amCollector struct{ a *AM }

var _ prometheus.Collector = amCollector{}

func (c amCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTaskManagers, descSlotsTotal, descSlotsAvailable, descRunningJobs,
		descNumRestarts, descUptime, descLastCPDuration, descLastCPSize, descCompletedCPs, descFailedCPs,
		descAttempt, descMaxAttempts, descAttemptsLeft, descLeader, descFailoverPhase, descZKState, descTakeovers} {
		ch <- d
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func (c amCollector) Collect(ch chan<- prometheus.Metric) {
	a := c.a
	o := a.overview()
	gauge(ch, descTaskManagers, float64(o.TaskManagers))
	gauge(ch, descSlotsTotal, float64(o.SlotsTotal))
	gauge(ch, descSlotsAvailable, float64(o.SlotsAvailable))
	gauge(ch, descAttempt, float64(o.Attempt))
	gauge(ch, descMaxAttempts, float64(o.MaxAttempts))
	gauge(ch, descAttemptsLeft, float64(max(0, o.MaxAttempts-o.Attempt)))
	leader := 0.0
	if o.Leader {
		leader = 1
	}
	gauge(ch, descLeader, leader)
	if cs, ok := a.cfg.Election.(connectionStater); ok {
		now := cs.ConnectionState()
		for _, s := range connectionStates {
			v := 0.0
			if s == now {
				v = 1
			}
			gauge(ch, descZKState, v, s)
		}
	}
	if tl, ok := a.cfg.Observer.(phaseSnapshotter); ok {
		for phase, ms := range tl.Snapshot() {
			sec := ms / 1000
			buckets := map[float64]uint64{}
			for _, b := range phaseBuckets {
				if sec <= b {
					buckets[b] = 1
				} else {
					buckets[b] = 0
				}
			}
			ch <- prometheus.MustNewConstHistogram(descFailoverPhase, 1, sec, buckets, phase)
		}
	}
	if a.coordinator != nil {
		for outcome, n := range a.coordinator.stats.takeoverCounts() {
			counter(ch, descTakeovers, float64(n), outcome)
		}
	}
	if a.dispatcher == nil {
		gauge(ch, descRunningJobs, 0)
		return
	}
	jobs := a.dispatcher.Jobs()
	gauge(ch, descRunningJobs, float64(len(jobs)))
	now := time.Now()
	for _, j := range jobs {
		st, _ := a.coordinator.stats.get(j.JobID)
		l := []string{j.JobID, j.Name}
		counter(ch, descNumRestarts, float64(st.restarts), l...)
		if started := a.dispatcher.startedAt(j.JobID); !started.IsZero() {
			gauge(ch, descUptime, float64(now.Sub(started).Milliseconds()), l...)
		}
		var dur, size float64
		if r := st.lastCompleted; r != nil {
			dur, size = float64(r.Acked.Sub(r.Triggered).Milliseconds()), float64(r.Size)
		}
		gauge(ch, descLastCPDuration, dur, l...)
		gauge(ch, descLastCPSize, size, l...)
		counter(ch, descCompletedCPs, float64(st.completed), l...)
		counter(ch, descFailedCPs, float64(st.failed), l...)
	}
}

// jobManagerMetricNames maps GET /jobmanager/metrics IDs (Flink's names of the
// JobManager's own metrics, and amkeeper's) to their Prometheus names.
var jobManagerMetricNames = map[string]string{
	"numRegisteredTaskManagers": metricTaskManagers,
	"taskSlotsTotal":            metricSlotsTotal,
	"taskSlotsAvailable":        metricSlotsAvailable,
	"numRunningJobs":            metricRunningJobs,
	metricAttempt:               metricAttempt,
	metricMaxAttempts:           metricMaxAttempts,
	metricAttemptsLeft:          metricAttemptsLeft,
	metricLeader:                metricLeader,
}

// MetricValue is one entry of GET /jobmanager/metrics (Flink's Metric): the
// ID, and with ?get= the value as text.
type MetricValue struct {
	ID    string `json:"id"`
	Value string `json:"value,omitempty"`
}

// jobManagerMetrics serves GET /jobmanager/metrics as Flink does: without
// ?get the metric IDs, with ?get=a,b those metrics' values.
func (a *AM) jobManagerMetrics(w http.ResponseWriter, r *http.Request) {
	families, err := a.metrics.Gather()
	if err != nil && len(families) == 0 {
		httpjson.WriteRESTErrors(w, http.StatusInternalServerError, err.Error())
		return
	}
	values := map[string]float64{}
	for _, f := range families {
		if len(f.GetMetric()) == 1 && len(f.GetMetric()[0].GetLabel()) == 0 && f.GetMetric()[0].GetGauge() != nil {
			values[f.GetName()] = f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	ids := make([]string, 0, len(jobManagerMetricNames))
	for id := range jobManagerMetricNames {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := []MetricValue{}
	get := r.URL.Query().Get("get")
	if get == "" {
		for _, id := range ids {
			out = append(out, MetricValue{ID: id})
		}
		httpjson.Write(w, http.StatusOK, out)
		return
	}
	for _, id := range strings.Split(get, ",") {
		id = strings.TrimSpace(id)
		if !slices.Contains(ids, id) {
			continue // as Flink: unknown metrics are left out
		}
		out = append(out, MetricValue{ID: id, Value: strconv.FormatFloat(values[jobManagerMetricNames[id]], 'f', -1, 64)})
	}
	httpjson.Write(w, http.StatusOK, out)
}

// newAMRegistry is the AM's own registry: the Go runtime, the process, and the
// AM's collector.
func newAMRegistry(a *AM) *prometheus.Registry {
	reg := metrics.NewRegistry()
	reg.MustRegister(amCollector{a})
	return reg
}
