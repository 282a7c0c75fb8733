package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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

// AMRecord is one running AM attempt.
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

// saveRecord writes what runs now. Writers are serialized, so the file always
// holds the newest snapshot.
func (s *Supervisor) saveRecord() {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	if s.recEnded {
		return // the application ended: the record is gone for good
	}
	r := Record{BootID: s.bootID, Supervisor: s.self}
	s.mu.Lock()
	for _, a := range s.ams {
		if a.pid != 0 {
			r.AMs = append(r.AMs, AMRecord{Attempt: a.n, AttemptID: a.id, Identity: a.ident, Port: a.port, REST: a.restAddr,
				Started: a.started, Session: a.session, Finished: a.finished})
		}
	}
	s.mu.Unlock()
	for _, c := range s.cm.List() {
		if c.State == containers.Running {
			r.Containers = append(r.Containers, ContainerRecord{ID: c.ID.String(),
				Identity: procid.Identity{PID: c.PID, StartTicks: c.StartTicks}, Memory: c.Memory, Slots: c.Slots, Started: c.Start})
		}
	}
	if err := WriteRecord(s.cfg.Dir, r); err != nil {
		s.log.Error().Err(err).Msg("cannot record the running processes: a restarted supervisor could not adopt them")
	}
}

// adopted is what New found of an earlier supervisor's processes.
type adopted struct {
	ams []*amProc // verified and held by a pidfd, to be watched by Run
	// dead are the recorded AMs that are not running any more (or could not be
	// verified): Run fences their sessions and has the policy count their exits
	// before any new attempt starts.
	dead []deadAM
}

type deadAM struct {
	exit    attempts.Exit
	session *rmapi.SessionCredentials
}

// adopt takes back what an earlier supervisor of this application recorded:
// every AM and container whose PID and start time are still the recorded ones,
// in the recorded boot. Everything else is dead: its AM's exit is counted as a
// failure (an AM that died while no supervisor watched), unless it had finished
// the application or the machine rebooted since (then the AM was lost with
// the machine: aborted, not counted, as YARN counts a lost node). Containers
// that are gone are reported completed to the AM at its next Allocate.
func (s *Supervisor) adopt(r Record) adopted {
	var out adopted
	rebooted := r.BootID != s.bootID
	for _, ar := range r.AMs {
		exit := attempts.Exit{Attempt: ar.Attempt, AttemptID: ar.AttemptID, Start: ar.Started, Kind: attempts.ExitFailed, ExitCode: -1}
		var why error
		if rebooted {
			why = fmt.Errorf("the machine rebooted (boot ID %s, recorded %s)", s.bootID, r.BootID)
		} else {
			p, err := procid.Open(ar.Identity)
			if err == nil {
				a := &amProc{n: ar.Attempt, id: ar.AttemptID, pid: ar.PID, ident: ar.Identity, proc: p, port: ar.Port, restAddr: ar.REST,
					started: ar.Started, session: ar.Session, finished: ar.Finished}
				out.ams = append(out.ams, a)
				s.log.Info().Str(logging.AttemptID, a.id).Int(logging.PID, a.pid).Msg("AM adopted: it kept running while no supervisor watched")
				continue
			}
			why = err
		}
		switch {
		case ar.Finished != nil:
			exit.Kind, exit.FinalStatus, exit.Diagnostics = attempts.ExitFinished, attempts.FinalStatus(ar.Finished.Status), ar.Finished.Diagnostics
		case rebooted:
			exit.Kind, exit.Diagnostics = attempts.ExitAborted, "lost with the machine: "+why.Error()
		default:
			exit.Diagnostics = "the AM died while no supervisor watched: " + why.Error()
		}
		s.log.Warn().Str(logging.AttemptID, ar.AttemptID).Int(logging.PID, ar.PID).Str("exit", string(exit.Kind)).
			Str("reason", why.Error()).Msg("recorded AM is not running: fencing it")
		out.dead = append(out.dead, deadAM{exit: exit, session: ar.Session})
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
		} else {
			err = errors.New("the machine rebooted")
		}
		s.log.Warn().Err(err).Str(logging.Container, cr.ID).Int(logging.PID, cr.PID).Msg("recorded container is not running")
		s.completed = append(s.completed, rmapi.CompletedContainer{ID: cr.ID, ExitCode: -1,
			Diagnostics: fmt.Sprintf("container %s ended while no supervisor watched: %v", cr.ID, err)})
	}
	return out
}

// readRecordIfAny returns the record of dir and whether there is one.
func readRecordIfAny(dir string) (Record, bool, error) {
	r, err := ReadRecord(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return Record{}, false, nil
	}
	return r, err == nil, err
}
