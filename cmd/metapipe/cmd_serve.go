package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v3"

	"github.com/metapipe/metapipe/api"
	"github.com/metapipe/metapipe/pipeline"
)

// serveOptions are metapipe serve's flags: its address, --worker and a worker's.
type serveOptions struct {
	addr     string
	addrFlag *cli.StringFlag // its IsSet: PORT gives the address only when --addr is not given
	worker   bool
	service  serviceOptions
}

func newServeCommand() *cli.Command {
	return command("serve", "serve the HTTP API, the runs' pages and River's UI (METAPIPE_API_TOKEN; loopback only without it)", func(o *serveOptions) []cli.Flag {
		o.addrFlag = &cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", Destination: &o.addr,
			Usage: "listen address `HOST:PORT` (default 0.0.0.0:$PORT when PORT is set, as container platforms do, else 127.0.0.1:8080)"}
		return append([]cli.Flag{o.addrFlag,
			&cli.BoolFlag{Name: "worker", Destination: &o.worker, Usage: "also work jobs in this process (one process is enough for a small agency)"},
		}, o.service.flags()...)
	}, runServe)
}

// minAPITokenLen is the shortest METAPIPE_API_TOKEN serve accepts: 16 characters, 128 bits
// when random hex is 32 (what the README suggests), at least 64 bits of a random hex token.
const minAPITokenLen = 16

func runServe(ctx context.Context, cmd *cli.Command, o *serveOptions) error {
	addr, token := o.addr, os.Getenv("METAPIPE_API_TOKEN")
	if port := os.Getenv("PORT"); port != "" && !o.addrFlag.IsSet() {
		// Railway, Render, Heroku-style platforms say the port to listen on in PORT.
		addr = net.JoinHostPort("0.0.0.0", port)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: --addr %q: %w", pipeline.ErrUsage, addr, err)
	}
	if token != "" && (utf8.RuneCountInString(token) < minAPITokenLen || strings.TrimSpace(token) != token) {
		return fmt.Errorf("%w: METAPIPE_API_TOKEN is too weak: use at least %d characters, no surrounding blanks (e.g. openssl rand -hex 32)",
			pipeline.ErrUsage, minAPITokenLen)
	}
	if ip := net.ParseIP(host); token == "" && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%w: --addr %s is not a loopback address: set METAPIPE_API_TOKEN to serve it", pipeline.ErrUsage, addr)
	}
	concurrency := 0
	if o.worker {
		concurrency = o.service.concurrency
	} else if o.service.schedule != "" {
		// Only a process that works jobs can be the one that queues the daily run.
		return fmt.Errorf("%w: --schedule needs --worker (or give it to the metapipe worker processes)", pipeline.ErrUsage)
	}
	metrics, err := listenMetrics(o.service.metricsAddr)
	if err != nil {
		return err
	}
	defer metrics.close()
	svc, cfg, err := o.service.open(ctx, cmd, concurrency)
	if err != nil {
		return err
	}
	defer svc.Close()
	srv, err := api.New(svc, api.Options{Token: token, Logger: cfg.Logger})
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("%w: %w", pipeline.ErrCannotStart, err)
	}
	metrics.serve(cmd, svc)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%w: listen %s: %w", pipeline.ErrCannotStart, addr, err)
	}
	if err := svc.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	if jsonMode(cmd) {
		event(cmd, "serving", false, "url", "http://"+ln.Addr().String(), "worker", concurrency > 0)
	} else {
		fmt.Fprintf(cmd.Root().Writer, "serving http://%s (API /v1/runs, pages /runs, River's UI /riverui/, metrics /metrics)\n", ln.Addr())
	}
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	if concurrency > 0 {
		if err := stopWorker(svc, cfg.Logger.Info); err != nil {
			return err
		}
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
