package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/pipeline"
)

// simCommandOptions are metapipe sim's flags.
type simCommandOptions struct {
	addr string
	sim  simOptions
}

func newSimCommand() *cli.Command {
	return command("sim", "serve the Graph API simulator on loopback", func(o *simCommandOptions) []cli.Flag {
		return append([]cli.Flag{&cli.StringFlag{Name: "addr", Value: "127.0.0.1:0", Destination: &o.addr,
			Usage: "listen address, loopback only (port 0: a free port, printed; make sim uses 8787)"}}, o.sim.flags()...)
	}, runSim)
}

// serveSim serves the simulator on a loopback address and returns its URL; the server's own
// error lines go to log.
func serveSim(ctx context.Context, addr string, sim *graphsim.Simulator, log *slog.Logger) (string, func(), error) {
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
	mux := http.NewServeMux()
	mux.Handle("/", sim)
	// What the simulator served, for tests that run it as a process (not a Graph API path).
	mux.HandleFunc("GET /_sim/counters", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(sim.Counters())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	return "http://" + ln.Addr().String(), stop, nil
}

func runSim(ctx context.Context, cmd *cli.Command, o *simCommandOptions) error {
	sim, err := o.sim.simulator()
	if err != nil {
		return err
	}
	url, stop, err := serveSim(ctx, o.addr, sim, logger(cmd))
	if err != nil {
		return err
	}
	defer stop()
	if jsonMode(cmd) {
		accounts := make([]string, 0, len(sim.Accounts()))
		for _, a := range sim.Accounts() {
			accounts = append(accounts, "act_"+a.ID)
		}
		event(cmd, "sim_listening", false, "url", url, "token", graphsim.DemoToken, "accounts", accounts,
			"job_duration", o.sim.jobDuration.String(), "latency", o.sim.latency.String(), "jitter", o.sim.jitter.String())
	} else {
		w := cmd.Root().Writer
		fmt.Fprintf(w, "Graph API simulator on %s (job duration %s, latency %s ± %s)\n", url, o.sim.jobDuration, o.sim.latency, o.sim.jitter)
		fmt.Fprintf(w, "  export META_GRAPH_URL=%s META_ACCESS_TOKEN=%s\n", url, graphsim.DemoToken)
		for _, a := range sim.Accounts() {
			fmt.Fprintf(w, "  account act_%s  %s\n", a.ID, a.Name)
		}
	}
	<-ctx.Done()
	return nil
}
