package main

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/service"
)

// metricsAddrFlag is --metrics-addr of worker and serve: a listener of its own for /metrics.
func metricsAddrFlag(dest *string) cli.Flag {
	return &cli.StringFlag{Name: "metrics-addr", Destination: dest, Usage: "also serve Prometheus metrics at http://`HOST:PORT`/metrics: " +
		"on a loopback address without a token, elsewhere only with METAPIPE_API_TOKEN as a bearer token (serve also has /metrics behind the token)"}
}

// metricsListener is --metrics-addr's listener, opened before the service so that a wrong
// address is a usage error (exit 2) at once; serve then serves the service's metrics on it.
type metricsListener struct {
	ln    net.Listener
	token string // "" on a loopback address
	hs    *http.Server
}

// listenMetrics opens --metrics-addr, when given (nil otherwise). An address that is not
// loopback needs METAPIPE_API_TOKEN, which every scrape must then send as `Authorization:
// Bearer` (ErrUsage without it); a listen that fails is ErrCannotStart.
func listenMetrics(addr string) (*metricsListener, error) {
	if addr == "" {
		return nil, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: --metrics-addr %q: %w", pipeline.ErrUsage, addr, err)
	}
	m := &metricsListener{}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		if m.token = os.Getenv("METAPIPE_API_TOKEN"); m.token == "" {
			return nil, fmt.Errorf("%w: --metrics-addr %s is not a loopback address: set METAPIPE_API_TOKEN (scrapes then send it as a bearer token)", pipeline.ErrUsage, addr)
		}
	}
	if m.ln, err = net.Listen("tcp", addr); err != nil {
		return nil, fmt.Errorf("%w: --metrics-addr: listen %s: %w", pipeline.ErrCannotStart, addr, err)
	}
	return m, nil
}

// serve serves svc's metrics at /metrics until close.
func (m *metricsListener) serve(cmd *cli.Command, svc *service.Service) {
	if m == nil {
		return
	}
	var h http.Handler = svc.Metrics().Handler()
	if m.token != "" {
		h = bearerOnly(m.token, h)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	m.hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := m.hs.Serve(m.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger(cmd).Error("metrics listener", "addr", m.ln.Addr().String(), "err", err)
		}
	}()
	logger(cmd).Info("serving metrics", "url", "http://"+m.ln.Addr().String()+"/metrics")
}

// close stops serving the metrics (or closes the listener never served).
func (m *metricsListener) close() {
	switch {
	case m == nil:
	case m.hs != nil:
		_ = m.hs.Close()
	default:
		_ = m.ln.Close()
	}
}

// bearerOnly lets in requests with the token as a bearer token (compared in constant time).
func bearerOnly(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if len(h) < 7 || !strings.EqualFold(h[:7], "Bearer ") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(h[7:])), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metapipe"`)
			http.Error(w, "missing or wrong API token (Authorization: Bearer <METAPIPE_API_TOKEN>)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
