package zktest

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"

	"github.com/amkeeper/amkeeper/internal/childproc"
)

// process is one run of a server's JVM.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the JVM has exited and been reaped
	err    error         // cmd.Wait's result; read only after exited is closed
}

// spawn starts cmd from a goroutine that stays locked to its OS thread until the
// child has been reaped.
//
// Why: on Linux the parent-death signal (Pdeathsig) fires when the *thread* that
// forked the child exits, not when the process does, and the Go runtime ends a thread
// whenever a goroutine returns while locked to it (any code in the test binary may do
// that). Forking from a thread we own and keep blocked in Wait means that thread
// lives exactly as long as the JVM, so the signal fires only when the whole test
// binary dies. The cost is one parked OS thread per running server.
func spawn(cmd *exec.Cmd) (*process, error) {
	// Its own process group, so a terminal's Ctrl-C reaches only the test
	// binary; on Linux the kernel kills it when its parent thread dies.
	cmd.SysProcAttr = childproc.SysProcAttr(childproc.OwnGroup)
	p := &process{cmd: cmd, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Deliberately never unlocked: when this goroutine returns, the runtime
		// ends the thread, and by then the child has exited.
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// signal sends sig to the JVM. It goes to the process, not its group: the JVM forks
// nothing, and os.Process signals through a pidfd, which cannot hit a recycled PID.
func (p *process) signal(sig syscall.Signal) error {
	err := p.cmd.Process.Signal(sig)
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// kill sends SIGKILL and waits until the JVM has been reaped.
func (p *process) kill() error {
	err := p.signal(syscall.SIGKILL)
	<-p.exited
	return err
}

// terminate sends SIGTERM (and SIGCONT, in case the JVM is paused), waits up to
// grace, then kills.
func (p *process) terminate(grace time.Duration) error {
	if err := p.signal(syscall.SIGTERM); err != nil {
		return err
	}
	if err := p.signal(syscall.SIGCONT); err != nil {
		return err
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.exited:
		return nil
	case <-timer.C:
		return p.kill()
	}
}

// exitStatus describes how the JVM ended; call only after exited is closed.
func (p *process) exitStatus() string {
	if p.cmd.ProcessState != nil {
		return p.cmd.ProcessState.String()
	}
	if p.err != nil {
		return p.err.Error()
	}
	return "exited"
}
