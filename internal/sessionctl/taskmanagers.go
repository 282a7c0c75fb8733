package sessionctl

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/amkeeper/amkeeper/internal/appsecret"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/taskmanager/tmapi"
)

// TaskManagerStatuses asks each TaskManager the leader at rest lists for its
// status (tmapi.Status: its tasks, their records, replays and stalls), signed with
// the session's secret. Internal TLS is not supported here.
func TaskManagerStatuses(ctx context.Context, secret appsecret.Secret, rest string) ([]tmapi.Status, error) {
	hc := &http.Client{Timeout: 5 * time.Second}
	var list struct {
		TaskManagers []jobmanager.TaskManagerInfo `json:"taskmanagers"`
	}
	if err := GetJSON(ctx, hc, rest+"/taskmanagers", &list); err != nil {
		return nil, fmt.Errorf("list taskmanagers at %s: %w", rest, err)
	}
	client := tmapi.NewTaskManagerClient(hc, secret)
	out := make([]tmapi.Status, 0, len(list.TaskManagers))
	for _, tm := range list.TaskManagers {
		st, err := client.Status(ctx, tm.Address)
		if err != nil {
			return nil, fmt.Errorf("status of taskmanager %s at %s: %w", tm.ContainerID, tm.Address, err)
		}
		out = append(out, st)
	}
	return out, nil
}
