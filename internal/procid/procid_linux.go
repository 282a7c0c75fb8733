package procid

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Of returns the identity of the live process pid.
func Of(pid int) (Identity, error) {
	if pid <= 0 {
		return Identity{}, fmt.Errorf("procid: pid %d: %w", pid, ErrNotRunning)
	}
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	b, err := os.ReadFile(path)
	if gone(err) {
		return Identity{}, fmt.Errorf("procid: pid %d: %w", pid, ErrNotRunning)
	}
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrUnverifiable, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces or
	// parentheses itself: the fields after it start after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return Identity{}, fmt.Errorf("%w: %s: no command name in %q", ErrUnverifiable, path, s)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state), so field 22 is f[19]
	if len(f) < 20 {
		return Identity{}, fmt.Errorf("%w: %s: %d fields after the command name, want at least 20", ErrUnverifiable, path, len(f))
	}
	if f[0] == "Z" || f[0] == "X" {
		return Identity{}, fmt.Errorf("procid: pid %d is a zombie: %w", pid, ErrNotRunning)
	}
	ticks, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %s: start time %q: %w", ErrUnverifiable, path, f[19], err)
	}
	return Identity{PID: pid, StartTicks: ticks}, nil
}

// gone reports whether err, from reading a /proc/<pid> entry, says the process
// is gone: the entry does not exist, or the process exited while it was read
// (ESRCH).
func gone(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH)
}

// Verify returns nil when the process id names still runs; an error wrapping
// ErrNotRunning when it is gone or its PID names another process now; one
// wrapping ErrUnverifiable when it could not be read, or when id has no start
// time (StartTicks 0) and its PID runs: whether that is the process id names is
// unknown.
func Verify(id Identity) error {
	cur, err := Of(id.PID)
	if err != nil {
		return err
	}
	if id.StartTicks == 0 {
		return fmt.Errorf("%w: %v: no start time recorded, so pid %d (started at %d) may be another process that reused it",
			ErrUnverifiable, id, id.PID, cur.StartTicks)
	}
	if cur.StartTicks != id.StartTicks {
		return fmt.Errorf("procid: pid %d started at %d, not %d (a reused pid): %w", id.PID, cur.StartTicks, id.StartTicks, ErrNotRunning)
	}
	return nil
}

// BootID returns this boot's ID.
func BootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("procid: boot id: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Process is a process that is not our child, held by a pidfd.
type Process struct {
	id Identity
	fd int
}

// Open verifies id and holds the process by a pidfd; Close releases it. A
// process that is gone (or whose PID names another process now) is an error
// wrapping ErrNotRunning; one that could not be checked (pidfd_open failed
// otherwise: EMFILE…) is an error wrapping ErrUnverifiable and the cause.
func Open(id Identity) (*Process, error) {
	if id.PID <= 0 {
		return nil, fmt.Errorf("procid: %v: %w", id, ErrNotRunning)
	}
	fd, err := unix.PidfdOpen(id.PID, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil, fmt.Errorf("procid: %v: %w", id, ErrNotRunning)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: pidfd_open %v: %w", ErrUnverifiable, id, err)
	}
	// Verified after the pidfd is open: had the PID been reused before, the
	// start time differs now; from here on the fd names this process only.
	if err := Verify(id); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &Process{id: id, fd: fd}, nil
}

// Identity returns the process's identity.
func (p *Process) Identity() Identity { return p.id }

// Signal sends sig to the process (never to another that reused its PID).
func (p *Process) Signal(sig unix.Signal) error {
	if err := unix.PidfdSendSignal(p.fd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("procid: signal %v: %w", p.id, ErrNotRunning)
		}
		return fmt.Errorf("procid: signal %v: %w", p.id, err)
	}
	return nil
}

// Wait blocks until the process exits (nil) or ctx ends (ctx's error): those
// are its only results, so a caller tells a release from an exit by ctx alone.
// The pidfd becomes readable at the exit; poll wakes at once. It wakes every
// 200 ms only to notice ctx. A failing poll (EINVAL, ENOMEM) says nothing of
// the process: Wait then asks /proc (Verify) and returns nil only when that
// says it is gone, else it polls again at the next tick.
func (p *Process) Wait(ctx context.Context) error {
	const tick = 200 * time.Millisecond
	for {
		fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(tick/time.Millisecond))
		switch {
		case err == nil && n > 0:
			return nil
		case err != nil && !errors.Is(err, unix.EINTR):
			if errors.Is(Verify(p.id), ErrNotRunning) {
				return nil
			}
			// poll returned at once: wait out the tick before the next try.
			t := time.NewTimer(tick)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// Close releases the pidfd.
func (p *Process) Close() error { return unix.Close(p.fd) }

// Find returns the live processes of this effective user whose arguments
// (argv, from /proc/<pid>/cmdline) match: a way to find a process whose PID
// was never recorded. Processes of other users are not looked at, so another
// user cannot plant a match. Processes that exit during the scan are skipped;
// any other failure to read a process's entry (EMFILE, EIO…) is an error
// wrapping ErrUnverifiable and the cause, as leaving the process out would call
// a live process gone.
func Find(match func(args []string) bool) ([]Identity, error) {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnverifiable, err)
	}
	var out []Identity
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid <= 0 {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat("/proc/"+d.Name(), &st); err != nil {
			if gone(err) {
				continue
			}
			return nil, fmt.Errorf("%w: stat /proc/%s: %w", ErrUnverifiable, d.Name(), err)
		}
		if int(st.Uid) != os.Geteuid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		if err != nil {
			if gone(err) {
				continue
			}
			return nil, fmt.Errorf("%w: %w", ErrUnverifiable, err)
		}
		if len(b) == 0 { // a kernel thread or a zombie: no arguments to match
			continue
		}
		if !match(strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")) {
			continue
		}
		id, err := Of(pid)
		if errors.Is(err, ErrNotRunning) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}
