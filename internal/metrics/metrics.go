// Package metrics serves a process's Prometheus registry: on a path of a server
// the process already runs (Handler), or, when metrics.reporter.prom.port is
// set, on a listener of its own on the first free port of that range (Serve), as
// Flink's PrometheusReporter does. Each process owns its registry; nothing here
// is global (no prometheus.DefaultRegisterer).
package metrics

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/httpjson"
	"github.com/amkeeper/amkeeper/internal/netaddr"
)

// Path is where a process serves its metrics.
const Path = "/metrics"

// Handler serves reg in Prometheus's text (or negotiated) exposition format.
// A collector that fails is reported in the reply's error, not by a panic.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// NewRegistry returns a registry with the Go runtime and process collectors,
// for one process.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return reg
}

// Serve binds host on the first free port of spec (metrics.reporter.prom.port)
// and serves reg at Path there until ctx ends. It returns the bound address
// ("host:port") once listening.
func Serve(ctx context.Context, reg *prometheus.Registry, host string, spec conf.PortSpec) (string, error) {
	l, err := netaddr.Listen(host, spec, netaddr.Keys{Host: conf.MetricsPromHost.Key(), Port: conf.MetricsPromPort.Key()})
	if err != nil {
		return "", fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+Path, Handler(reg))
	srv := httpjson.NewServer(mux, httpjson.Limits{})
	go func() { _ = srv.Serve(l) }()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(shutdown) != nil {
			_ = srv.Close()
		}
	}()
	return l.Addr().String(), nil
}
