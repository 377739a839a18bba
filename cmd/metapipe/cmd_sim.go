package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/metapipe/metapipe/fixtures"
	"github.com/metapipe/metapipe/pipeline"
)

func newSimCommand() *cli.Command {
	return &cli.Command{Name: "sim", Usage: "serve the Graph API simulator on loopback", Action: runSim,
		Flags: append([]cli.Flag{&cli.StringFlag{Name: "addr", Value: "127.0.0.1:0", Usage: "listen address (loopback only)"}}, simFlags()...)}
}

func newSim(c *cli.Context, accounts int) *fixtures.Simulator {
	return fixtures.New(fixtures.Config{Seed: c.Int64("seed"), Accounts: accounts, JobDuration: c.Duration("job-duration"),
		Latency: c.Duration("latency"), Jitter: c.Duration("jitter")})
}

// serveSim serves the simulator on a loopback address and returns its URL.
func serveSim(ctx context.Context, addr string, sim *fixtures.Simulator) (string, func(), error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("%w: --addr %q: %w", pipeline.ErrUsage, addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", nil, fmt.Errorf("%w: --addr %q: the simulator listens on loopback only", pipeline.ErrUsage, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("%w: listen %s: %w", pipeline.ErrCannotStart, addr, err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	return "http://" + ln.Addr().String(), stop, nil
}

func runSim(c *cli.Context) error {
	sim := newSim(c, c.Int("accounts"))
	url, stop, err := serveSim(c.Context, c.String("addr"), sim)
	if err != nil {
		return err
	}
	defer stop()
	w := c.App.Writer
	fmt.Fprintf(w, "Graph API simulator on %s (job duration %s, latency %s ± %s)\n", url, c.Duration("job-duration"), c.Duration("latency"), c.Duration("jitter"))
	fmt.Fprintf(w, "  export META_GRAPH_URL=%s META_ACCESS_TOKEN=%s\n", url, fixtures.DemoToken)
	for _, a := range sim.Accounts() {
		fmt.Fprintf(w, "  account act_%s  %s\n", a.ID, a.Name)
	}
	<-c.Context.Done()
	return nil
}
