package sessionctl

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/internal/flinkssl"
	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/supervisor"
)

// FindLeader returns the REST address of the session's leading AM, as the AMs
// report leadership to their supervisor, skipping not (a leader known to be gone).
func FindLeader(ctx context.Context, client *supervisor.ControlClient, not string) (string, error) {
	st, err := client.Status(ctx)
	if err != nil {
		return "", err
	}
	return LeaderIn(st, not)
}

// LeaderIn returns the REST address of the leading AM a supervisor's status
// names, skipping not, or an error saying that none leads right now.
func LeaderIn(st supervisor.Status, not string) (string, error) {
	for _, am := range st.AMs {
		if am.Leading && am.REST != "" && am.REST != not {
			return am.REST, nil
		}
	}
	return "", fmt.Errorf("session %s has no leading AM right now (attempt %d is starting?)", st.ApplicationID, st.Attempt)
}

// WaitLeader waits up to a minute for an AM other than not to lead, and returns
// its REST address.
func WaitLeader(ctx context.Context, client *supervisor.ControlClient, not string) (string, error) {
	return Poll(ctx, 60*time.Second, func() (string, bool) {
		l, err := FindLeader(ctx, client, not)
		return l, err == nil
	}, "no AM leads")
}

// maxREST bounds a REST reply read here (a job list can be long).
const maxREST = 64 << 20

// REST returns a client for an AM's REST API, each call bounded by timeout;
// with TLS (security.ssl.rest.*, nil: off) it speaks https, trusting the REST
// trust store and presenting the key store's certificate when the endpoint
// authenticates clients.
func REST(tls *flinkssl.Side, timeout time.Duration) httpjson.Client {
	return httpjson.Client{HTTP: tls.HTTPClient(timeout), MaxBytes: maxREST}
}

// Command returns a client for the REST calls that change a session's state
// (submit, cancel, checkpoint fall-back): each carries the session's application
// secret, as the AM demands, and each is bounded by timeout; tls as for REST.
func Command(secret appsecret.Secret, tls *flinkssl.Side, timeout time.Duration) httpjson.Client {
	return httpjson.Client{HTTP: secret.Client(tls.HTTPClient(timeout)), MaxBytes: maxREST}
}

// GetJSON decodes the JSON answer to GET url into v; anything but 200 OK is an
// error carrying what the server said.
func GetJSON(ctx context.Context, hc *http.Client, url string, v any) error {
	return httpjson.Client{HTTP: hc, MaxBytes: maxREST}.Get(ctx, url, v)
}

// NewSubmission parses a job spec (file names it in errors) and makes its
// submission: a new job ID and the encoded graph.
func NewSubmission(spec []byte, file string) (jobmanager.JobSubmission, error) {
	s, err := job.ParseSpec(spec, file)
	if err != nil {
		return jobmanager.JobSubmission{}, err
	}
	g := job.Graph{ID: job.NewJobID(), Spec: s}
	encoded, err := g.Encode()
	if err != nil {
		return jobmanager.JobSubmission{}, err
	}
	return jobmanager.JobSubmission{JobID: string(g.ID), Name: s.Name, Graph: encoded}, nil
}

// SubmitJob posts a submission, carrying the session's secret, to a leader's
// REST endpoint; anything but 202 Accepted is an error carrying what the leader
// said (a *RefusedError when it answered).
func SubmitJob(ctx context.Context, secret appsecret.Secret, tls *flinkssl.Side, rest string, sub jobmanager.JobSubmission) error {
	err := Command(secret, tls, 30*time.Second).Do(ctx, httpjson.Request{Method: http.MethodPost, URL: rest + "/jobs", Body: sub, Status: http.StatusAccepted}, nil)
	var se *httpjson.StatusError
	if errors.As(err, &se) {
		return &RefusedError{StatusCode: se.StatusCode, Message: se.Message}
	}
	return err
}

// RefusedError is a leader's refusal of a submission: 400 (invalid), 401 (no
// or another secret), 409 (the job ID or its sink path is taken), 503 (not
// leading).
type RefusedError struct {
	StatusCode int
	Message    string
}

func (e *RefusedError) Error() string { return e.Message }

// Submit submits s to the leader, trying again for up to 30 s while it does not
// accept it for want of leadership or is still recovering its jobs (503; it may
// have just been granted, or be unreachable). A refusal of the submission itself
// (400, 409) is returned at once — except a 409 on a second try when the leader
// runs this very submission (GET /jobs/{id} shows the job with the same graph):
// the first try's acknowledgement was lost, and the job is accepted.
func Submit(ctx context.Context, secret appsecret.Secret, tls *flinkssl.Side, leader string, s jobmanager.JobSubmission) error {
	var refused error
	tried := false
	_, err := Poll(ctx, 30*time.Second, func() (struct{}, bool) {
		err := SubmitJob(ctx, secret, tls, leader, s)
		var re *RefusedError
		if errors.As(err, &re) && re.StatusCode == http.StatusConflict && tried && runsSubmission(ctx, tls, leader, s) {
			return struct{}{}, true
		}
		tried = true
		if errors.As(err, &re) && re.StatusCode != http.StatusServiceUnavailable {
			refused = err
			return struct{}{}, true
		}
		return struct{}{}, err == nil
	}, "the leader does not accept the job")
	if refused != nil {
		return refused
	}
	return err
}

// runsSubmission reports whether the leader lists s's job with s's graph.
func runsSubmission(ctx context.Context, tls *flinkssl.Side, leader string, s jobmanager.JobSubmission) bool {
	var st jobmanager.JobStatus
	if err := REST(tls, 30*time.Second).Get(ctx, leader+"/jobs/"+s.JobID, &st); err != nil {
		return false
	}
	return st.JobID == s.JobID && st.GraphSHA256 == jobmanager.GraphDigest(s.Graph)
}
