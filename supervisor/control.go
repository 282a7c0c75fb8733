package supervisor

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/metrics"
	"github.com/amkeeper/amkeeper/internal/privdir"
	"github.com/amkeeper/amkeeper/supervisor/rmapi"
)

// Status is what `yarn-session status` shows of a running application.
type Status struct {
	ApplicationID   string           `json:"applicationId"`
	State           string           `json:"state"` // RUNNING, or the final status once ended
	Attempt         int              `json:"attempt"`
	AttemptID       string           `json:"attemptId"`
	MaxAttempts     int              `json:"maxAttempts"`
	Window          string           `json:"window"`
	CountedFailures int              `json:"countedFailures"`
	Remaining       int              `json:"remaining"` // counted failures the application survives now
	AMPID           int              `json:"amPid"`
	SupervisorPID   int              `json:"supervisorPid"`
	AMLog           string           `json:"amLog"`
	AMs             []AMState        `json:"ams"` // every running AM (several with hot standby)
	Containers      []ContainerState `json:"containers"`
	History         attempts.History `json:"history"`
	// Backoff is set while the supervisor waits before the next attempt because
	// the last ones crashed soon after their start (amkeeper.attempts.backoff.*).
	Backoff *Backoff `json:"backoff,omitempty"`
}

// Backoff is the crash-loop backoff being waited out, in Status.
type Backoff struct {
	NextAttempt  int       `json:"nextAttempt"`
	Crashes      int       `json:"crashes"`      // failed attempts in a row, each shorter than the minimum uptime
	DelaySeconds float64   `json:"delaySeconds"` // the wait after the last attempt's end
	NextStart    time.Time `json:"nextStart"`    // when the next attempt starts
}

// AMState is one running AM in Status.
type AMState struct {
	Attempt   int       `json:"attempt"`
	AttemptID string    `json:"attemptId"`
	PID       int       `json:"pid"`
	Start     time.Time `json:"start,omitzero"` // when the supervisor started it (zero for one it adopted)
	REST      string    `json:"rest"`
	Log       string    `json:"log"`
	// Leading says the AM reported that it leads (over rmapi's Leadership call);
	// at most one AM in a Status leads.
	Leading bool `json:"leading"`
}

// ContainerState is one container in Status.
type ContainerState struct {
	ID      string `json:"id"`
	PID     int    `json:"pid"`
	State   string `json:"state"`
	Attempt int    `json:"attempt"`
	Log     string `json:"log"`
}

// Status reports the application's state.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	st := Status{ApplicationID: s.cfg.App.String(), State: "RUNNING", MaxAttempts: s.cfg.Budget.MaxAttempts,
		Window: s.cfg.Budget.Window.String(), SupervisorPID: os.Getpid()}
	if s.last != nil {
		st.Attempt, st.AttemptID, st.AMPID = s.last.n, s.last.id, s.last.pid
	}
	if w := s.waiting; w != nil {
		st.Backoff = &Backoff{NextAttempt: s.next, Crashes: w.Streak, DelaySeconds: w.Delay.Seconds(), NextStart: w.Until}
	}
	lead := s.reportedLeader()
	for _, a := range s.ams {
		if a.pid != 0 {
			st.AMs = append(st.AMs, AMState{Attempt: a.n, AttemptID: a.id, PID: a.pid, Start: a.started, REST: a.restAddr, Log: s.amLog(a.id), Leading: a == lead})
		}
	}
	s.mu.Unlock()
	sort.Slice(st.AMs, func(i, j int) bool { return st.AMs[i].Attempt < st.AMs[j].Attempt })
	if d, ended := s.policy.Ended(); ended {
		st.State = string(d.FinalStatus)
	}
	st.AMLog = s.amLog(st.AttemptID)
	st.CountedFailures = s.policy.CountedFailures()
	st.Remaining = s.policy.Remaining()
	st.History = s.policy.History()
	for _, c := range s.cm.List() {
		if c.State != containers.Running {
			continue
		}
		st.Containers = append(st.Containers, ContainerState{ID: c.ID.String(), PID: c.PID, State: string(c.State), Attempt: c.ID.Attempt, Log: c.LogPath})
	}
	return st
}

// Control paths, served on the application's control socket.
const (
	PathStatus = "/v1/status"
	PathStop   = "/v1/stop"
	PathKillAM = "/v1/kill-am"
)

// maxSocketPath keeps socket paths under the kernel's sun_path limit (108 bytes
// on Linux, including the terminating NUL).
const maxSocketPath = 100

// SocketDir is where an application's unix sockets live: its directory when the
// paths fit the kernel's limit, otherwise /tmp/amk-<uid>-<hash of the directory>.
// It depends on nothing but the application directory (not on $TMPDIR), so every
// process finds the same sockets.
func SocketDir(appDir string) string {
	const longest = "/control.sock"
	if len(appDir)+len(longest) <= maxSocketPath {
		return appDir
	}
	abs, err := filepath.Abs(appDir)
	if err != nil {
		abs = appDir
	}
	sum := sha256.Sum256([]byte(abs))
	return fmt.Sprintf("/tmp/amk-%d-%x", os.Getuid(), sum[:6])
}

// ControlSocket is the path of an application's control socket.
func ControlSocket(appDir string) string { return filepath.Join(SocketDir(appDir), "control.sock") }

// serveControl serves status, stop and kill-am on l until ctx ends; stop calls
// requestStop.
func (s *Supervisor) serveControl(ctx context.Context, l net.Listener, requestStop func()) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathStatus, func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, s.Status())
	})
	mux.Handle("GET "+metrics.Path, metrics.Handler(s.metrics))
	mux.HandleFunc("POST "+PathStop, func(w http.ResponseWriter, r *http.Request) {
		s.log.Info().Msg("stop requested")
		requestStop()
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST "+PathKillAM, func(w http.ResponseWriter, r *http.Request) {
		pid, err := s.KillAM()
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]int{"pid": pid})
	})
	return rmapi.ServeHandler(ctx, l, mux)
}

// ControlClient talks to a running supervisor through its control socket.
type ControlClient struct {
	socket string
	json   httpjson.Client
}

// NewControlClient returns a client for the application directory appDir.
func NewControlClient(appDir string) *ControlClient {
	sock := ControlSocket(appDir)
	return &ControlClient{socket: sock, json: httpjson.Client{HTTP: &http.Client{Timeout: 10 * time.Second, Transport: rmapi.UnixTransport(sock)}}}
}

// Status fetches the application's status.
func (c *ControlClient) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, httpjson.Request{Method: http.MethodGet, URL: "http://supervisor" + PathStatus}, &st)
	return st, err
}

// Stop asks the supervisor to stop the application.
func (c *ControlClient) Stop(ctx context.Context) error {
	return c.do(ctx, httpjson.Request{Method: http.MethodPost, URL: "http://supervisor" + PathStop, Status: http.StatusAccepted}, nil)
}

// KillAM asks the supervisor to SIGKILL the running AM; it returns the PID killed.
func (c *ControlClient) KillAM(ctx context.Context) (int, error) {
	var res map[string]int
	err := c.do(ctx, httpjson.Request{Method: http.MethodPost, URL: "http://supervisor" + PathKillAM}, &res)
	return res["pid"], err
}

func (c *ControlClient) do(ctx context.Context, req httpjson.Request, v any) error {
	err := c.json.Do(ctx, req, v)
	var se *httpjson.StatusError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%s: %s", strings.TrimPrefix(req.URL, "http://supervisor"), se.Message)
	case errors.Is(err, privdir.ErrUntrusted):
		var pe *privdir.Error
		errors.As(err, &pe)
		return fmt.Errorf("refusing to connect to %s: %w", c.socket, pe)
	case errors.As(err, new(*url.Error)):
		return fmt.Errorf("application not running (no supervisor at %s): %w", c.socket, err)
	}
	return err
}
