package zkserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/amkeeper/amkeeper/internal/fsutil"
)

// mainClass is the JVM's main class. QuorumPeerMain runs a standalone server itself
// when zoo.cfg has fewer than two voting servers.
const mainClass = "org.apache.zookeeper.server.quorum.QuorumPeerMain"

// dirProperty marks a JVM with the server directory it was started from, so Stop can
// tell our server from a process that reused its pid.
const dirProperty = "-Damkeeper.zookeeper.dir="

// File names inside a server's directory.
const (
	cfgFile   = "zoo.cfg"
	pidFile   = "zookeeper.pid"
	logFile   = "zookeeper.log"
	log4jFile = "log4j.properties"
)

// pollInterval is how often a starting or stopping server is looked at.
const pollInterval = 25 * time.Millisecond

// jvmFlags make the JVM start fast and stay small (see notes/zookeeper-facts.md).
var jvmFlags = []string{
	"-Xms32m", "-Xmx256m",
	"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
	"-XX:-UsePerfData",                     // no /tmp/hsperfdata_* files
	"-Dzookeeper.jmx.log4j.disable=true",   // skip registering log4j MBeans
	"-Dzookeeper.admin.enableServer=false", // also in zoo.cfg; jetty is not on the classpath
}

// ServerArgs is the java command line of a server whose files (zoo.cfg and, when
// log4j is the SLF4J binding, log4j.properties) are in dir: the JVM flags, the
// extra -D properties, the classpath and mainClass.
func (i Installation) ServerArgs(dir, mainClass string, props ...string) []string {
	args := append(append([]string(nil), jvmFlags...), props...)
	if i.Log4j {
		args = append(args, "-Dlog4j.configuration=file:"+filepath.Join(dir, log4jFile))
	}
	return append(args, "-cp", i.Classpath, mainClass, filepath.Join(dir, cfgFile))
}

// child is a JVM this process started; exited is closed once it has been reaped.
type child struct {
	pid    int
	exited chan struct{}
	state  *os.ProcessState
}

// launch starts m's JVM detached: its own session, stdin from /dev/null, output
// appended to its log. A goroutine reaps it should it exit while this process lives.
func launch(inst Installation, m *member, jvmFlags []string) (*child, error) {
	logPath := filepath.Join(m.dir, logFile)
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("zkserver: open %s: %w", logPath, err)
	}
	defer logf.Close() // the child has its own descriptor
	fmt.Fprintf(logf, "=== amkeeper: starting %s on %s at %s\n", m.name, m.addr(), time.Now().Format(time.RFC3339Nano))

	cmd := exec.Command(inst.Java, inst.ServerArgs(m.dir, mainClass, append([]string{dirProperty + m.dir}, jvmFlags...)...)...)
	cmd.Dir = m.dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("zkserver: start %s: %w", m.name, err)
	}
	c := &child{pid: cmd.Process.Pid, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		c.state = cmd.ProcessState
		close(c.exited)
	}()
	if err := fsutil.WriteFileAtomic(filepath.Join(m.dir, pidFile), []byte(strconv.Itoa(c.pid)+"\n"), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("zkserver: %w", err)
	}
	return c, nil
}

// readPID reads a server directory's pid file; it returns 0 and an error wrapping
// fs.ErrNotExist when there is none.
func readPID(dir string) (int, error) {
	path := filepath.Join(dir, pidFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("zkserver: read pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("zkserver: %s: %q is not a pid", path, strings.TrimSpace(string(b)))
	}
	return pid, nil
}

// procState is what /proc says about a pid.
type procState int

const (
	procGone    procState = iota // no such process, or a zombie
	procOurs                     // the ZooKeeper JVM started from the directory
	procForeign                  // alive, but some other program
)

// inspect looks a pid up (processGone, cmdline) and decides whether it is the
// server of dir.
func inspect(pid int, dir string) procState {
	if processGone(pid) {
		return procGone
	}
	b, err := cmdline(pid)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return procGone
		}
		return procForeign // cannot tell: do not touch it
	}
	var marked, zk bool
	for _, arg := range bytes.Split(b, []byte{0}) {
		switch string(arg) {
		case dirProperty + dir:
			marked = true
		case mainClass:
			zk = true
		}
	}
	if marked && zk {
		return procOurs
	}
	if len(b) == 0 && processGone(pid) { // exited between the two reads
		return procGone
	}
	return procForeign
}

// terminate stops the server of dir whose pid is pid: it opens the process (a pidfd
// on Linux, so the signals cannot reach a recycled pid), checks it is ours, sends
// SIGTERM, waits up to grace, then SIGKILL and waits up to killWait. It reports
// whether SIGKILL was needed.
func terminate(ctx context.Context, pid int, dir string, grace, killWait time.Duration) (killed bool, err error) {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false, fmt.Errorf("zkserver: find pid %d: %w", pid, err)
	}
	defer p.Release()
	switch inspect(pid, dir) {
	case procGone:
		return false, nil
	case procForeign:
		return false, fmt.Errorf("%w: pid %d", ErrNotOurs, pid)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return false, fmt.Errorf("zkserver: SIGTERM pid %d: %w", pid, err)
	}
	_ = p.Signal(syscall.SIGCONT) // in case it was stopped
	if waitGone(ctx, pid, grace) {
		return false, nil
	}
	if err := p.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return true, fmt.Errorf("zkserver: SIGKILL pid %d: %w", pid, err)
	}
	if !waitGone(context.WithoutCancel(ctx), pid, killWait) {
		return true, fmt.Errorf("zkserver: pid %d still running %v after SIGKILL", pid, killWait)
	}
	return true, nil
}

// waitGone polls until pid is gone, d passes or ctx ends; it reports whether pid is gone.
func waitGone(ctx context.Context, pid int, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if processGone(pid) {
			return true
		}
		select {
		case <-ctx.Done():
			return processGone(pid)
		case <-timer.C:
			return processGone(pid)
		case <-tick.C:
		}
	}
}

// LogTail returns the last n lines of a log file, reading at most its last 64 KiB.
func LogTail(path string, n int) string {
	const maxRead = 64 << 10
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > maxRead {
		_, _ = f.Seek(-maxRead, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
