package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"path/filepath"
	"slices"
	"time"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/supervisor"
)

// pickRESTPort returns the REST port a new session keeps across its attempts:
// a free port on rest.bind-address, as Flink on YARN binds an ephemeral one, when
// neither rest.port nor rest.bind-port is set and the session runs one AM (hot
// standby gives each AM its conf/masters port). 0: the attempts bind what the
// configuration says.
func pickRESTPort(cfg *conf.Config) (int, error) {
	if !cfg.RESTPortUnset() || len(cfg.Masters()) > 1 {
		return 0, nil
	}
	host := cfg.RESTBindAddress()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("pick a free REST port on %s (%s): %w", host, conf.RESTBindAddress.Key(), err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// leader is the AM that leads a started session.
type leader struct {
	supervisorPID int
	rest          string // its REST address, http(s)://host:port
}

// errStart is a start that did not come to a leading AM.
type errStart struct {
	msg string
	// gone: no supervisor runs the application any more (it ended, or its
	// keeper and supervisor exited), so there is nothing to stop. Else the
	// timeout passed while it still runs.
	gone bool
}

func (e *errStart) Error() string { return e.msg }

// awaitLeader polls the session's supervisor until one of its AMs reports that
// it leads, and returns it. It fails when the application ends first (its
// supervisor recorded the end), when keeper (the exit of the process detach
// started; nil: none) reports that the keeper exited and no supervisor answers,
// or when timeout passes; the error names the cause from the last attempt's
// am.log, or from the supervisor's log when the supervisor exited without
// ending the application. A supervisor that reports the end before it has
// recorded it is given endedGrace to record it: the record says why and after
// how many attempts.
func awaitLeader(ctx context.Context, dir, appID string, timeout time.Duration, keeper <-chan error) (leader, error) {
	const endedGrace = 10 * time.Second
	client := supervisor.NewControlClient(dir)
	deadline := time.Now().Add(timeout)
	var endedState string // the state the supervisor reported once it no longer ran
	var endedSeen time.Time
	for {
		st, err := client.Status(ctx)
		if err == nil {
			for _, a := range st.AMs {
				if a.Leading && a.REST != "" {
					return leader{supervisorPID: st.SupervisorPID, rest: a.REST}, nil
				}
			}
		}
		if e, rerr := readEnded(dir); rerr == nil {
			return leader{}, &errStart{fmt.Sprintf("session %s ended %s (%s) after %d attempt(s) before an application master led%s",
				appID, e.FinalStatus, e.Reason, e.Attempts, lastCause(dir)), true}
		}
		if err == nil && st.State != "RUNNING" && endedState == "" {
			endedState, endedSeen = st.State, time.Now()
		}
		if endedState != "" && time.Since(endedSeen) > endedGrace {
			return leader{}, &errStart{fmt.Sprintf("session %s ended %s before an application master led (no %s after %s)%s",
				appID, endedState, filepath.Join(dir, endedFile), endedGrace, lastCause(dir)), true}
		}
		if time.Now().After(deadline) {
			return leader{}, &errStart{fmt.Sprintf("session %s: no application master leads after %s (%s)%s",
				appID, timeout, conf.SessionStartTimeout.Key(), lastCause(dir)), false}
		}
		select {
		case <-ctx.Done():
			return leader{}, ctx.Err()
		case kerr := <-keeper:
			keeper = nil // a closed keeper is looked at once
			if e := keeperGone(ctx, client, dir, appID, kerr); e != nil {
				return leader{}, e
			}
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// keeperGone is the failed start once the keeper exited (kerr: its exit)
// before an AM led, nil when a supervisor still answers (a keeper killed on its
// own leaves the supervisor running). A supervisor writes its end record before
// it exits, so one that ended the application has written it by now.
func keeperGone(ctx context.Context, client *supervisor.ControlClient, dir, appID string, kerr error) *errStart {
	if e, err := readEnded(dir); err == nil {
		return &errStart{fmt.Sprintf("session %s ended %s (%s) after %d attempt(s) before an application master led%s",
			appID, e.FinalStatus, e.Reason, e.Attempts, lastCause(dir)), true}
	}
	if _, err := client.Status(ctx); err == nil {
		return nil
	}
	return &errStart{fmt.Sprintf("session %s: %s", appID, supervisorExited(dir, appID, kerr, "before an application master led")), true}
}

// supervisorExited phrases the exit of a detached supervisor that did not end
// its application, from its keeper's exit kerr: "its supervisor exited (exit
// status 1) <when>; last error in …" — its own last error, else the newest AM's
// — and, when its record names AMs or containers, that they may still run and,
// for a session (appID not ""), how to adopt and stop them.
func supervisorExited(dir, appID string, kerr error, when string) string {
	how := "exit status 0"
	if kerr != nil {
		how = kerr.Error()
	}
	cause := lastErrorIn(supervisorLog(dir))
	if cause == "" {
		cause = lastCause(dir)
	}
	msg := fmt.Sprintf("its supervisor exited (%s) %s%s", how, when, cause)
	if r, err := supervisor.ReadRecord(dir); err == nil && len(r.AMs)+len(r.Containers) > 0 {
		msg += fmt.Sprintf("; %d AM(s) and %d container(s) it recorded may still run", len(r.AMs), len(r.Containers))
		if appID != "" {
			msg += fmt.Sprintf(": `yarn-session -id %s` restarts its supervisor (which adopts them), `yarn-session stop -id %s` then stops them", appID, appID)
		}
	}
	return msg
}

// lastCause phrases the last error line of the newest attempt whose am.log has
// one, for a start that failed: "; last error in <path>: <line>", or where to
// look. (The newest attempt may not have failed yet.)
func lastCause(dir string) string {
	logs, err := attemptLogs(dir)
	if err == nil && len(logs) == 0 {
		err = fmt.Errorf("no attempt in %s: %w", filepath.Join(dir, "attempts"), fs.ErrNotExist)
	}
	if err != nil {
		return fmt.Sprintf("; no attempt log (%v): see %s", err, supervisorLog(dir))
	}
	for _, l := range slices.Backward(logs) {
		if cause := lastErrorIn(l.path); cause != "" {
			return cause
		}
	}
	return fmt.Sprintf("; no error in %s: see it and %s", logs[len(logs)-1].path, supervisorLog(dir))
}

// lastErrorIn phrases the last error line of the log at path: "; last error
// in <path>: <line>", or "" when it has none.
func lastErrorIn(path string) string {
	if line := logging.LastErrorOf(path); line != "" {
		return fmt.Sprintf("; last error in %s: %s", path, line)
	}
	return ""
}

// isStartFailure reports whether err is a start that did not lead (as opposed to
// the context ending), and whether no supervisor runs the application any more
// (else it still runs).
func isStartFailure(err error) (failed, gone bool) {
	var e *errStart
	if errors.As(err, &e) {
		return true, e.gone
	}
	return false, false
}
