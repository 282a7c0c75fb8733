package supervisor

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/internal/fsutil"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/internal/procid"
	"github.com/amkeeper/amkeeper/supervisor/rmapi"
)

// RecordFile is the supervisor's record of what runs, in the application
// directory (0600: it holds the AMs' ZooKeeper session credentials). A
// restarted supervisor reads it to adopt the AMs and containers its predecessor
// started. It is rewritten (atomically) on every change and removed when the
// application ends with every process stopped.
const RecordFile = "supervisor.json"

// Record is what RecordFile holds.
type Record struct {
	// BootID is the boot the processes below run in (procid.BootID); under
	// another boot every one of them is dead.
	BootID     string            `json:"bootId"`
	Supervisor procid.Identity   `json:"supervisor"`
	AMs        []AMRecord        `json:"ams"`
	Containers []ContainerRecord `json:"containers"`
}

// AMRecord is one AM attempt of the application: being started, running, or
// ended but not yet settled.
//
// It is written before the process is forked, with PID 0 ("starting attempt
// N"), and again with its PID and start time once it runs: a supervisor that
// dies in between leaves a record by which the next one finds the process (by
// its arguments, see procid.Find) instead of a process nobody knows of. When
// the AM ends, its Exit is recorded, and the attempt leaves the record only
// once its ZooKeeper session is fenced and the exit counted in the saved
// history: a supervisor that dies before that leaves it for the next one to
// settle (counted once: an attempt the history holds already is not counted
// again).
type AMRecord struct {
	Attempt   int    `json:"attempt"`
	AttemptID string `json:"attemptId"`
	procid.Identity
	// Port is the REST port of the AM's slot ("" without hot standby).
	Port     string                    `json:"port,omitempty"`
	REST     string                    `json:"rest,omitempty"` // its REST address, once registered
	Started  time.Time                 `json:"started"`
	Session  *rmapi.SessionCredentials `json:"session,omitempty"`
	Finished *rmapi.FinishRequest      `json:"finished,omitempty"`
	Exit     *ExitRecord               `json:"exit,omitempty"`
}

// ExitRecord is how an AM attempt ended, as its supervisor saw it.
type ExitRecord struct {
	Kind        attempts.ExitKind    `json:"kind"`
	FinalStatus attempts.FinalStatus `json:"finalStatus,omitempty"`
	ExitCode    int                  `json:"exitCode"`
	Signal      string               `json:"signal,omitempty"`
	Diagnostics string               `json:"diagnostics,omitempty"`
}

// ContainerRecord is one running container.
type ContainerRecord struct {
	ID string `json:"id"`
	procid.Identity
	Memory  int64     `json:"memoryBytes"`
	Slots   int       `json:"slots"`
	Started time.Time `json:"started"`
}

// RecordPath is the record's file in the application directory appDir.
func RecordPath(appDir string) string { return filepath.Join(appDir, RecordFile) }

// ReadRecord reads the record of appDir; an error wrapping fs.ErrNotExist
// when there is none.
func ReadRecord(appDir string) (Record, error) {
	var r Record
	b, err := os.ReadFile(RecordPath(appDir))
	if err != nil {
		return r, fmt.Errorf("supervisor: record: %w", err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("supervisor: record %s: %w", RecordPath(appDir), err)
	}
	return r, nil
}

// WriteRecord writes r as the record of appDir (atomically, 0600).
func WriteRecord(appDir string, r Record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("supervisor: encode record: %w", err)
	}
	if err := fsutil.WriteFileAtomic(RecordPath(appDir), b, 0o600); err != nil {
		return fmt.Errorf("supervisor: write record %s: %w", RecordPath(appDir), err)
	}
	return nil
}

// saveRecord writes what runs now, and the ended attempts not yet settled,
// and logs a failure: for the writes whose failure leaves nothing to undo (the
// next write tries again). Before a fork, writeRecord's error is acted on.
func (s *Supervisor) saveRecord() {
	if err := s.writeRecord(); err != nil {
		s.log.Error().Err(err).Msg("cannot record the running processes: a restarted supervisor could not adopt them")
	}
}

// writeRecord writes what runs now, and the ended attempts not yet settled.
// Writers are serialized, so the file always holds the newest snapshot.
func (s *Supervisor) writeRecord() error {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	if s.recEnded {
		return nil // the application ended: the record is gone for good
	}
	r := Record{BootID: s.bootID, Supervisor: s.self}
	s.mu.Lock()
	for _, a := range s.ams {
		r.AMs = append(r.AMs, a.record())
	}
	for _, a := range s.exited {
		r.AMs = append(r.AMs, a.record())
	}
	s.mu.Unlock()
	slices.SortFunc(r.AMs, func(a, b AMRecord) int { return cmp.Compare(a.Attempt, b.Attempt) })
	for _, c := range s.cm.List() {
		if c.State == containers.Running {
			r.Containers = append(r.Containers, ContainerRecord{ID: c.ID.String(),
				Identity: procid.Identity{PID: c.PID, StartTicks: c.StartTicks}, Memory: c.Memory, Slots: c.Slots, Started: c.Start})
		}
	}
	return WriteRecord(s.cfg.Dir, r)
}

// record is a's entry in the record; callers hold s.mu.
func (a *amProc) record() AMRecord {
	r := AMRecord{Attempt: a.n, AttemptID: a.id, Identity: a.ident, Port: a.port, REST: a.restAddr,
		Started: a.started, Session: a.session, Finished: a.finished}
	if a.exit != nil {
		r.Exit = &ExitRecord{Kind: a.exit.Kind, FinalStatus: a.exit.FinalStatus, ExitCode: a.exit.ExitCode,
			Signal: a.exit.Signal, Diagnostics: a.exit.Diagnostics}
	}
	return r
}

// adopted is what New found of an earlier supervisor's processes.
type adopted struct {
	ams []*amProc // verified and held by a pidfd, to be watched by Run
	// dead are the recorded AMs that are not running any more, each with its
	// exit: Run fences their sessions and settles their exits before any new
	// attempt starts. They stay in the record until then.
	dead []*amProc
}

// adopt takes back what an earlier supervisor of this application recorded:
// every AM and container whose PID and start time are still the recorded ones,
// in the recorded boot, and an AM recorded as being started whose process
// runs (found by its arguments). Everything else is dead: an AM whose exit was
// recorded ended that way; any other AM's exit is counted as a failure (it
// died while no supervisor watched), unless it had finished the application,
// the machine rebooted since (then it was lost with the machine: aborted, not
// counted, as YARN counts a lost node) or it was being started and never ran.
// Containers that are gone are reported completed to the AM at its next
// Allocate.
//
// A process that could not be checked (procid.ErrUnverifiable: no descriptor
// left for its pidfd…) may still run: adopt fails with the cause rather than
// treat it as dead, and lets go of what it took so far (the caller releases the
// container manager).
func (s *Supervisor) adopt(r Record) (adopted, error) {
	var out adopted
	fail := func(err error) (adopted, error) {
		for _, a := range out.ams {
			_ = a.proc.Close()
		}
		return adopted{}, err
	}
	rebooted := r.BootID != s.bootID
	for _, ar := range r.AMs {
		a := &amProc{n: ar.Attempt, id: ar.AttemptID, ident: ar.Identity, port: ar.Port, restAddr: ar.REST,
			started: ar.Started, session: ar.Session, finished: ar.Finished}
		exit := attempts.Exit{Attempt: ar.Attempt, AttemptID: ar.AttemptID, Start: ar.Started, Kind: attempts.ExitFailed, ExitCode: -1}
		var why error
		switch {
		case ar.Exit != nil:
			why = errors.New("its exit was seen, not yet settled")
		case rebooted:
			why = fmt.Errorf("the machine rebooted (boot ID %s, recorded %s)", s.bootID, r.BootID)
		default:
			p, err := s.openAM(ar)
			if err == nil {
				a.pid, a.ident, a.proc = p.Identity().PID, p.Identity(), p
				out.ams = append(out.ams, a)
				s.log.Info().Str(logging.AttemptID, a.id).Int(logging.PID, a.pid).Msg("AM adopted: it kept running while no supervisor watched")
				continue
			}
			if !errors.Is(err, procid.ErrNotRunning) {
				return fail(fmt.Errorf("supervisor: cannot tell whether AM %s (%v) still runs: %w", ar.AttemptID, ar.Identity, err))
			}
			why = err
		}
		switch {
		case ar.Exit != nil:
			e := ar.Exit
			exit.Kind, exit.FinalStatus, exit.ExitCode, exit.Signal, exit.Diagnostics = e.Kind, e.FinalStatus, e.ExitCode, e.Signal, e.Diagnostics
		case ar.Finished != nil:
			exit.Kind, exit.FinalStatus, exit.Diagnostics = attempts.ExitFinished, attempts.FinalStatus(ar.Finished.Status), ar.Finished.Diagnostics
		case rebooted:
			exit.Kind, exit.Diagnostics = attempts.ExitAborted, "lost with the machine: "+why.Error()
		case ar.PID == 0:
			exit.Kind, exit.Diagnostics = attempts.ExitAborted, "its supervisor died while starting it: "+why.Error()
		default:
			exit.Diagnostics = "the AM died while no supervisor watched: " + why.Error()
		}
		s.log.Warn().Str(logging.AttemptID, ar.AttemptID).Int(logging.PID, ar.PID).Str("exit", string(exit.Kind)).
			Str("reason", why.Error()).Msg("recorded AM is not running: fencing it")
		a.exit = &exit
		out.dead = append(out.dead, a)
	}
	for _, cr := range r.Containers {
		id, err := containers.ParseContainerID(cr.ID)
		if err != nil {
			s.log.Warn().Err(err).Str(logging.Container, cr.ID).Msg("recorded container has an invalid ID: ignored")
			continue
		}
		if !rebooted {
			_, err = s.cm.Adopt(containers.Container{ID: id, PID: cr.PID, StartTicks: cr.StartTicks, Memory: cr.Memory, Slots: cr.Slots, Start: cr.Started})
			if err == nil {
				continue
			}
			if errors.Is(err, procid.ErrUnverifiable) {
				return fail(fmt.Errorf("supervisor: cannot tell whether container %s (%v) still runs: %w", cr.ID, cr.Identity, err))
			}
		} else {
			err = errors.New("the machine rebooted")
		}
		s.log.Warn().Err(err).Str(logging.Container, cr.ID).Int(logging.PID, cr.PID).Msg("recorded container is not running")
		s.completed = append(s.completed, rmapi.CompletedContainer{ID: cr.ID, ExitCode: -1,
			Diagnostics: fmt.Sprintf("container %s ended while no supervisor watched: %v", cr.ID, err)})
	}
	return out, nil
}

// openAM verifies a recorded AM and holds it by a pidfd. One recorded while
// being started (PID 0) is looked for by its arguments: the supervisor may
// have died after forking it, before recording its PID.
func (s *Supervisor) openAM(ar AMRecord) (*procid.Process, error) {
	if ar.PID != 0 {
		return procid.Open(ar.Identity)
	}
	// Its supervisor socket is in this application's directory: an AM of
	// another session with the same IDs (a copy of the directory, a test) is
	// not ours.
	found, err := procid.Find(func(args []string) bool {
		return len(args) > 1 && args[1] == "am" && argValue(args, "--attempt-id") == ar.AttemptID &&
			argValue(args, "--application-id") == s.cfg.App.String() && argValue(args, "--rm-socket") == s.Socket()
	})
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no process of attempt %s runs: %w", ar.AttemptID, procid.ErrNotRunning)
	case 1:
		return procid.Open(found[0])
	}
	return nil, fmt.Errorf("%w: %d processes claim to be attempt %s: %v", procid.ErrUnverifiable, len(found), ar.AttemptID, found)
}

// argValue returns the value after flag in args ("" if it is not there).
func argValue(args []string, flag string) string {
	for i, a := range args[:max(len(args)-1, 0)] {
		if a == flag {
			return args[i+1]
		}
	}
	return ""
}

// readRecordIfAny returns the record of dir and whether there is one.
func readRecordIfAny(dir string) (Record, bool, error) {
	r, err := ReadRecord(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return Record{}, false, nil
	}
	return r, err == nil, err
}
