package conf

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMetricsReporterKeys: metrics.reporter.prom.port is read (unset: the
// process's own endpoint serves /metrics), Flink's Prometheus factory class is
// accepted, another reporter is refused, and any other metrics.reporter.* key
// is warned about rather than ignored silently.
func TestMetricsReporterKeys(t *testing.T) {
	c, err := Load(Options{LookupEnv: noEnv})
	require.NoError(t, err)
	_, ok := c.MetricsPromPort()
	require.False(t, ok, "unset by default")
	require.Equal(t, "127.0.0.1", c.MetricsPromHost())

	c, err = Load(Options{LookupEnv: noEnv, Dynamic: []string{
		"metrics.reporter.prom.port=9250-9260",
		"metrics.reporter.prom.factory.class=org.apache.flink.metrics.prometheus.PrometheusReporterFactory",
		"metrics.reporter.jmx.factory.class=org.apache.flink.metrics.jmx.JMXReporterFactory",
	}})
	require.NoError(t, err)
	spec, ok := c.MetricsPromPort()
	require.True(t, ok)
	require.Equal(t, 9250, spec.First())
	require.Empty(t, warningsAbout(c, MetricsPromFactory.Key()))
	w := warningsAbout(c, "metrics.reporter.jmx.factory.class")
	require.Len(t, w, 1)
	require.Contains(t, w[0].Msg, "is not a key amkeeper knows")

	_, err = Load(Options{LookupEnv: noEnv, Dynamic: []string{"metrics.reporter.prom.factory.class=org.example.StatsD"}})
	require.ErrorContains(t, err, MetricsPromFactory.Key())
	require.ErrorContains(t, err, "want org.apache.flink.metrics.prometheus.PrometheusReporterFactory")
}
