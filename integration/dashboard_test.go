package integration_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/jobmanager"
)

// browser is a headless Debian Chromium driven through the DevTools protocol.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	problems []string // uncaught exceptions, console errors and security messages of the page
}

// newBrowser starts Chromium headless (as root it needs --no-sandbox) with a
// fresh profile; it is stopped when the test ends. A missing chromium fails the
// test: scripts/install-deps installs it.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("the dashboard test drives Debian's chromium, which is not installed (%v): run scripts/install-deps", err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-dev-shm-usage", true))
	ctx, cancelCtx := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx}

	// The first Run starts the browser; it must not carry a timeout (that would
	// end the browser), so the start is bounded by a timer that cancels it.
	timer := time.AfterFunc(60*time.Second, cancelCtx)
	_, err = chromedp.Run(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		// Violations of the page's Content-Security-Policy are collected in the
		// page (a script added through the protocol is not subject to it).
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`})
		return err
	}))
	require.True(t, timer.Stop(), "chromium did not start within 60 s")
	require.NoError(t, err, "start chromium")

	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// Failed requests (the AM down during a failover) are the network's;
			// anything the page throws or logs as an error, or the browser's
			// security messages (CSP), is a problem.
			if m.IsException() || (m.Type == chromedp.ConsoleError && m.Source != "network") || m.Source == "security" {
				b.mu.Lock()
				b.problems = append(b.problems, m.String())
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// eval evaluates a JavaScript expression of a string result in the page,
// within 5 s.
func (b *browser) eval(expr string) (string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[string](expr))
}

// navigate opens url in the tab, within 30 s.
func (b *browser) navigate(url string) error {
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	return chromedp.Do(ctx, chromedp.Navigate(url))
}

// waitFor polls expr in the page until ok accepts its value, failing the test
// after timeout with the last value; it returns that value.
func (b *browser) waitFor(what, expr string, timeout time.Duration, ok func(string) bool) string {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	var err error
	for time.Now().Before(deadline) {
		if last, err = b.eval(expr); err == nil && ok(last) {
			return last
		}
		<-time.After(50 * time.Millisecond)
	}
	b.t.Fatalf("the page does not show %s within %v: last %q (%v)", what, timeout, last, err)
	return ""
}

// text is an expression of the text of the element matching a CSS selector, or "".
func text(sel string) string {
	return fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? "")`, sel)
}

// value is an expression of the data-value of the element matching sel, or "".
func value(sel string) string {
	return fmt.Sprintf(`(document.querySelector(%q)?.dataset.value ?? "")`, sel)
}

func equals(want string) func(string) bool { return func(s string) bool { return s == want } }

func atLeast(n int64) func(string) bool {
	return func(s string) bool { v, err := strconv.ParseInt(s, 10, 64); return err == nil && v >= n }
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestDashboardFollowsAFailover opens the AM's dashboard in a real headless
// Chromium on a session running the counting job: it shows the leading attempt,
// the job RUNNING with its checkpoints rising, the TaskManager and the
// configuration with origins, as the REST API reports them. Then the AM is
// SIGKILLed: without a reload the same page shows attempt 2, attempt 1 ended in
// the attempt table, every phase of the failover, and the job restored from a
// checkpoint and checkpointing again. The page neither throws nor violates its
// Content-Security-Policy.
func TestDashboardFollowsAFailover(t *testing.T) {
	// A fixed REST port, so that the next attempt serves at the page's address.
	port := strconv.Itoa(freePort(t))
	_, _, client, jobs, _ := jobSessionWith(t, 1, func(c *cli) {
		for i, a := range c.ha {
			if a == "rest.port=0" {
				c.ha[i] = "rest.port=" + port
			}
		}
	}, fastCounting)
	jobID := jobs[0]
	rest := leaderOf(client)
	require.True(t, strings.HasSuffix(rest, ":"+port), "the AM serves at the fixed port: %s", rest)
	var o jobmanager.Overview
	require.NoError(t, getJSON(rest+"/overview", &o))

	b := newBrowser(t)
	require.NoError(t, b.navigate(rest+"/?refresh=200"))
	_, err := b.eval(`window.__marker = "first load"`)
	require.NoError(t, err)

	// The leader, as the AM reports it.
	b.waitFor("attempt 1", value("#attempt"), 30*time.Second, equals("1"))
	b.waitFor("the leading attempt's ID", value("#attempt-id"), 10*time.Second, equals(o.AttemptID))
	b.waitFor("the AM as leader", value("#leading"), 10*time.Second, equals("true"))
	row := fmt.Sprintf(`tr[data-job=%q]`, jobID)
	b.waitFor("the job RUNNING", text(row+` [data-k="state"]`), 30*time.Second, equals(jobmanager.JobRunning))

	// Live values: the latest checkpoint the page shows rises while it is open.
	first := b.waitFor("a completed checkpoint", value(row+` [data-k="latest"]`), 30*time.Second, atLeast(1))
	n, _ := strconv.ParseInt(first, 10, 64)
	shown := b.waitFor("a later checkpoint", value(row+` [data-k="latest"]`), 30*time.Second, atLeast(n+3))
	var info jobmanager.CheckpointInfo
	require.NoError(t, getJSON(rest+"/jobs/"+jobID+"/checkpoints", &info))
	v, _ := strconv.ParseInt(shown, 10, 64)
	require.GreaterOrEqual(t, info.Latest, v, "the page shows the AM's checkpoints")

	// The TaskManager and the configuration with its origins.
	st, err := client.Status(context.Background())
	require.NoError(t, err)
	require.Len(t, st.Containers, 1)
	b.waitFor("the TaskManager", `[...document.querySelectorAll("#taskmanagers tr")].map((r) => r.dataset.tm).join(",")`,
		10*time.Second, equals(st.Containers[0].ID))
	var cfg []jobmanager.ConfigEntry
	require.NoError(t, getJSON(rest+"/jobmanager/config", &cfg))
	var haType jobmanager.ConfigEntry
	for _, e := range cfg {
		if e.Key == "high-availability.type" {
			haType = e
		}
	}
	require.Equal(t, "zookeeper", haType.Value)
	require.NotEmpty(t, haType.Origin)
	b.waitFor("high-availability.type with its origin",
		`[...document.querySelectorAll('#config tr[data-key="high-availability.type"] td')].map((c) => c.textContent).join("|")`,
		10*time.Second, equals("high-availability.type|zookeeper|"+haType.Origin))
	b.waitFor("attempt 1's failover phases", `[...document.querySelectorAll('#failovers [data-attempt="1"] li')].length + ""`,
		10*time.Second, equals("7"))

	// The AM dies; the page follows the next attempt by itself.
	_, err = client.KillAM(context.Background())
	require.NoError(t, err)
	b.waitFor("attempt 2", value("#attempt"), 60*time.Second, equals("2"))
	b.waitFor("attempt 2 leading", value("#leading"), 30*time.Second, equals("true"))
	b.waitFor("attempt 1 ended, failed and counted", `(() => { const c = [...document.querySelectorAll('#attempts tr[data-attempt="1"] td')].map((c) => c.textContent); return c[4]?.split(" ")[0] + "|" + c[5]; })()`,
		30*time.Second, equals("failed|yes"))
	b.waitFor("attempt 2 running", text(`#attempts tr.current[data-attempt="2"] td:nth-child(5)`), 10*time.Second, equals("running"))
	phases := strings.Join([]string{jobmanager.PhaseProcessStart, jobmanager.PhaseZKConnected, jobmanager.PhaseGranted,
		jobmanager.PhasePublished, jobmanager.PhaseJobsRecovered, jobmanager.PhaseTMsRegistered, jobmanager.PhaseTasksDeployed}, ",")
	got := b.waitFor("every phase of the failover", `[...document.querySelectorAll('#failovers [data-attempt="2"] li')].map((l) => l.dataset.phase).sort().join(",")`,
		60*time.Second, func(s string) bool { return s == sortedCSV(phases) })
	t.Logf("failover phases shown: %s", got)
	b.waitFor("attempt 1's phases still listed", `[...document.querySelectorAll('#failovers [data-attempt="1"] li')].length + ""`,
		5*time.Second, equals("7"))
	restored := b.waitFor("the job restored from a checkpoint", value(row+` [data-k="restored"]`), 60*time.Second, atLeast(1))
	r, _ := strconv.ParseInt(restored, 10, 64)
	b.waitFor("the job checkpointing under attempt 2", value(row+` [data-k="latest"]`), 60*time.Second, atLeast(r+2))
	b.waitFor("the job RUNNING", text(row+` [data-k="state"]`), 10*time.Second, equals(jobmanager.JobRunning))

	// The same document throughout, without errors or CSP violations.
	marker, err := b.eval(`window.__marker ?? "reloaded"`)
	require.NoError(t, err)
	require.Equal(t, "first load", marker, "the page followed the failover without a reload")
	csp, err := b.eval(`window.__csp.join("; ")`)
	require.NoError(t, err)
	require.Empty(t, csp, "Content-Security-Policy violations")
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Empty(t, b.problems, "the page's exceptions and console errors")
}

func sortedCSV(s string) string {
	parts := strings.Split(s, ",")
	slices.Sort(parts)
	return strings.Join(parts, ",")
}
