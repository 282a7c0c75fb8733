package integration_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/integration/multihost"
	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/childproc"
	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/recovery"
)

// proc is a real process of the yarn-session binary, logging to a file.
type proc struct {
	cmd *exec.Cmd
	log string // its stdout and stderr
}

// start runs `bin args…` with the application secret at secretFile, as a
// supervisor would hand it over (appsecret.EnvFile).
func start(t *testing.T, secretFile, name string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), appsecret.EnvFile+"="+secretFile)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = childproc.SysProcAttr(childproc.OwnGroup)
	require.NoError(t, cmd.Start())
	f.Close()
	p := &proc{cmd: cmd, log: logPath}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", name, b)
		}
	})
	return p
}

func (p *proc) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.cmd.Wait()
}

// haArgs are the -D properties of one test cluster.
func haArgs(t *testing.T) []string {
	props := []string{
		"high-availability.type=zookeeper",
		"high-availability.zookeeper.quorum=" + zkc.ConnectString(),
		"high-availability.zookeeper.path.root=" + zkc.Root(t),
		"high-availability.cluster-id=application_1_0001",
		"high-availability.storageDir=file://" + t.TempDir(),
		"high-availability.zookeeper.client.session-timeout=2 s",
		"heartbeat.interval=100 ms",
		"rest.port=0",
	}
	var args []string
	for _, p := range props {
		args = append(args, "-D", p)
	}
	return args
}

// leaderREST follows the rest_server leader the way a client would.
func leaderREST(t *testing.T, args []string) func() recovery.LeaderInfo {
	return followLeader(t, args, recovery.RestServer)
}

// followLeader follows component's leader in the HA services of the -D args.
func followLeader(t *testing.T, args []string, component string) func() recovery.LeaderInfo {
	var dyn []string
	for i := 1; i < len(args); i += 2 {
		dyn = append(dyn, args[i])
	}
	ctx, cancel := context.WithCancel(context.Background())
	get, wait, err := multihost.Follow(ctx, dyn, component, logging.ForTest(t))
	if err != nil {
		cancel()
	}
	require.NoError(t, err)
	t.Cleanup(func() { cancel(); wait() })
	return get
}

func getJSON(url string, v any) error {
	return getJSONWith(nil, url, v)
}

// getJSONWith is getJSON through hc (nil: a plain client).
func getJSONWith(hc *http.Client, url string, v any) error {
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Second}
	}
	return httpjson.Client{HTTP: hc}.Get(context.Background(), url, v)
}

func registeredPIDs(leader recovery.LeaderInfo) map[string]int {
	var tms struct {
		TaskManagers []jobmanager.TaskManagerInfo `json:"taskmanagers"`
	}
	if !leader.Known() || getJSON(leader.Address+"/taskmanagers", &tms) != nil {
		return nil
	}
	out := map[string]int{}
	for _, tm := range tms.TaskManagers {
		out[tm.ContainerID] = tm.PID
	}
	return out
}

// TestTaskManagerProcessesOutliveAKilledAM runs an AM process and two TaskManager
// processes; the AM is SIGKILLed and a new AM process started: the same two
// TaskManager processes (same PIDs) register with the new leader.
func TestTaskManagerProcessesOutliveAKilledAM(t *testing.T) {
	args := haArgs(t)
	leader := leaderREST(t, args)
	secretFile := filepath.Join(t.TempDir(), appsecret.FileName)
	_, err := appsecret.Create(secretFile)
	require.NoError(t, err)
	am1 := start(t, secretFile, "am-1", append([]string{"am", "--attempt", "1", "--attempt-id", "appattempt_1_0001_000001"}, args...)...)
	tms := map[string]*proc{}
	for i := 1; i <= 2; i++ {
		id := fmt.Sprintf("container_1_0001_01_%06d", i)
		tms[id] = start(t, secretFile, id, append([]string{"taskmanager", "--container-id", id}, args...)...)
	}
	want := map[string]int{}
	for id, p := range tms {
		want[id] = p.cmd.Process.Pid
	}
	require.Eventually(t, func() bool { return fmt.Sprint(registeredPIDs(leader())) == fmt.Sprint(want) },
		30*time.Second, 20*time.Millisecond, "both TaskManagers register with the first AM")
	first := leader()

	am1.kill(t)
	start(t, secretFile, "am-2", append([]string{"am", "--attempt", "2", "--attempt-id", "appattempt_1_0001_000002"}, args...)...)
	require.Eventually(t, func() bool {
		l := leader()
		return l.Known() && l.SessionID != first.SessionID && fmt.Sprint(registeredPIDs(l)) == fmt.Sprint(want)
	}, 30*time.Second, 20*time.Millisecond, "the same TaskManager processes register with the next AM")
	for id, p := range tms {
		require.NoError(t, p.cmd.Process.Signal(syscall.Signal(0)), "%s must still be the same live process", id)
	}
}
