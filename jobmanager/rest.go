package jobmanager

import (
	"encoding/json"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"runtime"
	"time"

	"github.com/google/uuid"

	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/metrics"
	"github.com/amkeeper/amkeeper/internal/version"
	"github.com/amkeeper/amkeeper/jobmanager/dashboard"
)

// Overview is GET /overview: Flink's ClusterOverviewWithVersion (taskmanagers
// … flink-commit, the version fields naming amkeeper's build), then amkeeper's
// own fields.
type Overview struct {
	TaskManagers   int `json:"taskmanagers"`
	SlotsTotal     int `json:"slots-total"`
	SlotsAvailable int `json:"slots-available"`
	JobCounts
	FlinkVersion string `json:"flink-version"`
	FlinkCommit  string `json:"flink-commit"`

	AttemptID      string `json:"attemptId"`
	Attempt        int    `json:"attempt"`
	MaxAttempts    int    `json:"maxAttempts"`
	Leader         bool   `json:"leader"`
	LeaderSession  string `json:"leaderSession,omitempty"` // served only to callers carrying the application secret
	AdoptedPending int    `json:"adoptedPending"`          // previous containers not yet re-registered
}

// ConfigEntry is one line of GET /jobmanager/config (Flink's key/value list).
type ConfigEntry struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Origin string `json:"origin"`
}

// FailoverReport is GET /failover: this attempt's failover as it took over.
type FailoverReport struct {
	// Phases are the failover phases reached (Phase…), in milliseconds since the
	// previous attempt's exit (or this process's start).
	Phases map[string]float64 `json:"phases"`
	// Jobs is how each job was taken over, by job ID.
	Jobs map[string]Takeover `json:"jobs"`
}

// phaseSnapshotter is an Observer that also reports the failover phases it saw,
// in milliseconds (GET /failover serves them).
type phaseSnapshotter interface {
	Snapshot() map[string]float64
}

var _ phaseSnapshotter = (*Timeline)(nil)

// dashboardRefresh is GET /config's refresh-interval (Flink's default).
const dashboardRefresh = 3 * time.Second

func (a *AM) handler() http.Handler {
	mux := http.NewServeMux()
	ui := dashboard.Handler() // the web dashboard: reads the endpoints below
	mux.Handle("GET /{$}", ui)
	mux.Handle("GET "+dashboard.PathAssets, ui)
	// Anything not served below: Flink's 404 body.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpjson.WriteRESTErrors(w, http.StatusNotFound, "Not found: "+r.URL.Path)
	})
	if d := a.dispatcher; d != nil {
		jobs := d.Handler()
		mux.Handle("/jobs", jobs)
		mux.Handle("/jobs/", jobs)
		mux.HandleFunc("GET /jobs/{id}/checkpoints", func(w http.ResponseWriter, r *http.Request) {
			if a.knownJob(w, r) {
				httpjson.Write(w, http.StatusOK, a.coordinator.Info(r.PathValue("id")))
			}
		})
		mux.HandleFunc("GET /jobs/{id}/exceptions", func(w http.ResponseWriter, r *http.Request) {
			if a.knownJob(w, r) {
				httpjson.Write(w, http.StatusOK, a.coordinator.Exceptions(r.PathValue("id")))
			}
		})
		mux.HandleFunc("POST "+PathFallback, a.fallback)
	}
	mux.HandleFunc("GET /overview", func(w http.ResponseWriter, r *http.Request) {
		o := a.overview()
		if !a.cfg.Secret.Valid(r) {
			o.LeaderSession = "" // the fencing token, for the application's own processes only
		}
		if a.dispatcher != nil {
			// While a new leader lists its stored jobs it has no counts yet:
			// the overview goes without them (GET /jobs answers 503 meanwhile).
			jobs, err := a.dispatcher.allJobs(r.Context())
			switch {
			case errors.Is(err, ErrRecovering):
			case err != nil:
				httpjson.WriteRESTErrors(w, http.StatusInternalServerError, err.Error())
				return
			default:
				o.JobCounts = countJobs(jobs)
			}
		}
		httpjson.Write(w, http.StatusOK, o)
	})
	mux.HandleFunc("GET /config", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, dashboardConfig(time.Now(), dashboardRefresh, version.Version(), version.Revision()))
	})
	mux.HandleFunc("GET /taskmanagers", func(w http.ResponseWriter, r *http.Request) {
		used := map[string]int{}
		if a.coordinator != nil {
			used = a.coordinator.stats.usedSlots()
		}
		out := []TaskManagerDetail{}
		for _, tm := range a.tms.List() {
			out = append(out, taskManagerDetail(tm, used[tm.ContainerID], a.cfg.TaskManagerMemory, runtime.NumCPU()))
		}
		httpjson.Write(w, http.StatusOK, map[string]any{"taskmanagers": out})
	})
	mux.HandleFunc("GET /jobmanager/metrics", a.jobManagerMetrics)
	mux.Handle("GET "+metrics.Path, metrics.Handler(a.metrics))
	mux.HandleFunc("GET /jobmanager/config", func(w http.ResponseWriter, r *http.Request) {
		out := []ConfigEntry{}
		for _, e := range a.cfg.Conf.Entries() {
			out = append(out, ConfigEntry{Key: e.Option.Key(), Value: e.Display(), Origin: e.Origin.String()})
		}
		httpjson.Write(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /failover", func(w http.ResponseWriter, r *http.Request) {
		out := FailoverReport{Phases: map[string]float64{}, Jobs: map[string]Takeover{}}
		if tl, ok := a.cfg.Observer.(phaseSnapshotter); ok {
			out.Phases = tl.Snapshot()
		}
		if a.coordinator != nil {
			out.Jobs = a.coordinator.Takeovers()
		}
		httpjson.Write(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /attempts", func(w http.ResponseWriter, r *http.Request) {
		o := a.overview()
		out := map[string]any{"attemptId": o.AttemptID, "attempt": o.Attempt, "maxAttempts": o.MaxAttempts}
		if a.coordinator != nil {
			// How this attempt took each job over: the failover as the jobs saw it.
			out["takeover"] = a.coordinator.Takeovers()
		}
		if a.cfg.AttemptHistory != nil {
			b, err := a.cfg.AttemptHistory(r.Context())
			switch {
			case err == nil:
				out["history"] = json.RawMessage(b)
			case !errors.Is(err, fs.ErrNotExist):
				out["historyError"] = err.Error()
			}
		}
		httpjson.Write(w, http.StatusOK, out)
	})
	return a.guard(mux)
}

// guard is the REST API's gate. Reads are open, as Flink serves them; but
//   - a request from a browser page of another origin than the AM's own (its
//     Origin header is not the AM's address) is refused: 403 Forbidden;
//   - a request that may change state (any method but GET, HEAD and OPTIONS:
//     submit, cancel, checkpoint fall-back, the TaskManagers' registrations)
//     needs a request signed with the application secret (401 Unauthorized,
//     no detail; a body over 1 MiB: 413) and a JSON body type (415
//     Unsupported Media Type): a browser cannot send either across origins
//     without asking first. With security.ssl.rest.authentication-enabled, a
//     client certificate verified against the REST trust store stands for the
//     signature.
func (a *AM) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && origin != a.Address() {
			httpjson.WriteRESTErrors(w, http.StatusForbidden, "cross-origin request refused: "+origin+" is not this dashboard's origin")
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if !a.clientCertified(r) {
			if err := a.cfg.Secret.Check(r); err != nil {
				if errors.Is(err, appsecret.ErrTooLarge) || errors.Is(err, appsecret.ErrBusy) {
					appsecret.Refuse(w, err)
				} else {
					w.Header().Set("WWW-Authenticate", appsecret.Challenge)
					httpjson.WriteRESTErrors(w, http.StatusUnauthorized)
				}
				return
			}
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			httpjson.WriteRESTErrors(w, http.StatusUnsupportedMediaType, "want Content-Type application/json")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// rpcGuard is the RPC endpoint's gate, in front of the registry (which requires
// the application secret itself): no browser has business there, so a request
// with any Origin is refused (403), and a call needs a JSON body type (415).
func rpcGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" {
			httpjson.WriteRESTErrors(w, http.StatusForbidden, "cross-origin request refused: the RPC endpoint serves no browser")
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); r.Method == http.MethodPost && (err != nil || mt != "application/json") {
			httpjson.WriteRESTErrors(w, http.StatusUnsupportedMediaType, "want Content-Type application/json")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clientCertified: r came over REST TLS with client authentication, with a
// certificate verified against security.ssl.rest.truststore.
func (a *AM) clientCertified(r *http.Request) bool {
	return a.cfg.RESTTLS != nil && a.cfg.RESTTLS.ClientAuth && r.TLS != nil && len(r.TLS.VerifiedChains) > 0
}

// PathFallback is an operator's fall-back of a job whose latest checkpoint is
// unreadable (FallbackRequest in, FallbackPlan out). Only the leader answers
// (503 otherwise); without Confirm it changes nothing and says what the
// fall-back would duplicate.
const PathFallback = "/jobs/{id}/checkpoints/fallback"

// FallbackRequest is the body of POST PathFallback.
type FallbackRequest struct {
	To      int64 `json:"to"`
	Confirm bool  `json:"confirm"`
}

func (a *AM) fallback(w http.ResponseWriter, r *http.Request) {
	var req FallbackRequest
	if err := (httpjson.Decoder{}).Decode(w, r, &req); err != nil {
		httpjson.WriteRESTErrors(w, httpjson.DecodeStatus(err), err.Error())
		return
	}
	if !a.overview().Leader {
		httpjson.WriteRESTErrors(w, http.StatusServiceUnavailable, errNotLeading.Error())
		return
	}
	plan, err := a.coordinator.Fallback(r.Context(), r.PathValue("id"), req.To, req.Confirm)
	switch {
	case errors.Is(err, ErrFallback):
		httpjson.WriteRESTErrors(w, http.StatusConflict, err.Error())
	case err != nil:
		httpjson.WriteRESTErrors(w, http.StatusInternalServerError, err.Error())
	default:
		httpjson.Write(w, http.StatusOK, plan)
	}
}

// knownJob answers 404 (and false) for a job the dispatcher does not know in
// any state.
func (a *AM) knownJob(w http.ResponseWriter, r *http.Request) bool {
	if _, err := a.dispatcher.Status(r.Context(), r.PathValue("id")); err != nil {
		httpjson.WriteRESTErrors(w, statusOf(err), err.Error())
		return false
	}
	return true
}

func (a *AM) overview() Overview {
	tms := a.tms.List()
	slots, free := 0, 0
	used := map[string]int{}
	if a.coordinator != nil {
		used = a.coordinator.stats.usedSlots()
	}
	for _, tm := range tms {
		slots += tm.Slots
		free += max(0, tm.Slots-used[tm.ContainerID])
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	o := Overview{AttemptID: a.cfg.AttemptID, Attempt: a.cfg.Attempt, MaxAttempts: a.reg.MaxAttempts,
		Leader: a.session != uuid.Nil, TaskManagers: len(tms), SlotsTotal: slots, SlotsAvailable: free, AdoptedPending: len(a.adopted),
		FlinkVersion: version.Version(), FlinkCommit: version.Revision()}
	if o.Leader {
		o.LeaderSession = a.session.String()
	}
	return o
}
