package metrics_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/metrics"
	"github.com/amkeeper/amkeeper/internal/netaddr/netaddrtest"
)

// TestServeTakesTheFirstFreePortOfTheRange: as Flink's PrometheusReporter, a
// busy port of metrics.reporter.prom.port is skipped for the next one, which
// serves the registry at /metrics until the context ends; a range with no free
// port is an error naming the key.
func TestServeTakesTheFirstFreePortOfTheRange(t *testing.T) {
	port := netaddrtest.BusyPort(t)

	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "amkeeper_test_value"})
	g.Set(7)
	reg.MustRegister(g)

	spec, err := conf.ParsePortSpec(fmt.Sprintf("%d-%d", port, port+40))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	addr, err := metrics.Serve(ctx, reg, "127.0.0.1", spec)
	require.NoError(t, err)
	_, p, _ := net.SplitHostPort(addr)
	got, _ := strconv.Atoi(p)
	require.Greater(t, got, port, "the busy port is skipped")
	require.LessOrEqual(t, got, port+40)

	resp, err := http.Get("http://" + addr + metrics.Path)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, strings.Split(string(body), "\n"), "amkeeper_test_value 7")

	cancel()
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, 10*time.Second, 10*time.Millisecond, "the listener closes with the context")

	only, err := conf.ParsePortSpec(strconv.Itoa(port))
	require.NoError(t, err)
	_, err = metrics.Serve(context.Background(), reg, "127.0.0.1", only)
	require.ErrorContains(t, err, "metrics.reporter.prom.port")
	require.ErrorContains(t, err, strconv.Itoa(port))
}
