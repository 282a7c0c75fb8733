// Package browsertest drives a real headless Chromium (Debian's chromium
// package, installed by scripts/install-deps) through the DevTools protocol
// with chromedp, for tests of the web dashboard. It only starts browsers for
// tests: New fails the test (it never skips) when chromium is missing, every
// step is bounded, and the browser is stopped when the test ends.
//
// It records what a page must not do: uncaught exceptions, errors it writes
// to the console, the browser's security messages, and violations of the
// page's Content-Security-Policy (seen by a listener the protocol installs in
// every document, which the policy does not govern). Failed network requests
// are not recorded: a dashboard polling an AM that is failing over sees some.
package browsertest

import (
	"context"
	"fmt"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// StartTimeout bounds the start of the browser; EvalTimeout one evaluation;
// NavigateTimeout one page load.
const (
	StartTimeout    = 60 * time.Second
	EvalTimeout     = 5 * time.Second
	NavigateTimeout = 30 * time.Second
)

// Browser is one headless Chromium with one tab. Its methods are for the
// test's goroutine.
type Browser struct {
	t   testing.TB
	ctx context.Context

	mu       sync.Mutex
	problems []string
}

// cspListener collects the page's Content-Security-Policy violations in
// window.__csp.
const cspListener = `window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`

// New starts Chromium headless with a fresh profile (--no-sandbox: the tests
// run as root, where Chromium's sandbox cannot start). A missing chromium
// fails the test naming scripts/install-deps.
func New(t testing.TB) *Browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("this test drives Debian's chromium, which is not installed (%v): run scripts/install-deps", err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-dev-shm-usage", true))
	ctx, cancelCtx := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	b := &Browser{t: t, ctx: ctx}

	// The first Run starts the browser and must not carry a deadline (that would
	// end the browser with it), so a timer bounds it by cancelling.
	timer := time.AfterFunc(StartTimeout, cancelCtx)
	_, err = chromedp.Run(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: cspListener})
		return err
	}))
	if !timer.Stop() {
		t.Fatalf("chromium %s did not start within %v", path, StartTimeout)
	}
	if err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || (m.Type == chromedp.ConsoleError && m.Source != "network") || m.Source == "security" {
				b.mu.Lock()
				b.problems = append(b.problems, m.String())
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// Navigate opens url in the tab and waits for it to load.
func (b *Browser) Navigate(url string) error {
	ctx, cancel := context.WithTimeout(b.ctx, NavigateTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		return fmt.Errorf("open %s: %w", url, err)
	}
	return nil
}

// Eval evaluates a JavaScript expression whose value is a string.
func (b *Browser) Eval(expr string) (string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, EvalTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[string](expr))
}

// WaitFor evaluates expr every 50 ms until ok accepts its value and returns
// that value; after timeout it fails the test naming what was awaited and the
// last value seen.
func (b *Browser) WaitFor(what, expr string, timeout time.Duration, ok func(string) bool) string {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	var err error
	for {
		if last, err = b.Eval(expr); err == nil && ok(last) {
			return last
		}
		if time.Now().After(deadline) {
			break
		}
		<-time.After(50 * time.Millisecond)
	}
	b.t.Fatalf("the page does not show %s within %v: last %q (%v)", what, timeout, last, err)
	return ""
}

// Problems returns what the page did wrong so far: exceptions, console errors,
// security messages and Content-Security-Policy violations.
func (b *Browser) Problems() []string {
	ctx, cancel := context.WithTimeout(b.ctx, EvalTimeout)
	defer cancel()
	csp, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__csp ?? []`))
	b.mu.Lock()
	defer b.mu.Unlock()
	out := append([]string(nil), b.problems...)
	if err != nil {
		out = append(out, "read the page's CSP violations: "+err.Error())
	}
	for _, v := range csp {
		out = append(out, "Content-Security-Policy violation: "+v)
	}
	return out
}

// Text is an expression of the text of the first element matching a CSS
// selector, or "" when none does.
func Text(selector string) string {
	return fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? "")`, selector)
}

// Value is an expression of the data-value attribute of the first element
// matching a CSS selector, or "".
func Value(selector string) string {
	return fmt.Sprintf(`(document.querySelector(%q)?.dataset.value ?? "")`, selector)
}

// Cells is an expression of the texts of the cells of the rows matching a
// CSS selector: cells joined by "|", rows by "\n".
func Cells(rows string) string {
	return fmt.Sprintf(`[...document.querySelectorAll(%q)].map((r) => [...r.cells].map((c) => c.textContent).join("|")).join("\n")`, rows)
}

// Equals accepts exactly want.
func Equals(want string) func(string) bool { return func(s string) bool { return s == want } }
