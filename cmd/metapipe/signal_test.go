package main

import (
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

// SIGTERM (what cron's kill, Airflow and systemd send) cancels cleanly: the process exits soon
// with 130, says how to resume, loads nothing, the ledger and status say interrupted for the
// run and the clients cut short, and the next run resumes the run directory.
func TestSIGTERMCancelsCleanly(t *testing.T) {
	w := newWorld(t, graphsim.Config{Accounts: 2, Seed: 9, JobDuration: 3 * time.Second})
	c, errb := w.startUntilSaved(t, 2*5)
	sent := time.Now()
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := c.Wait()
	took := time.Since(sent)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v, want code 130\n%s", err, errb.String())
	}
	if !strings.Contains(errb.String(), "interrupted; the next run with the same as-of and clients resumes") {
		t.Errorf("stderr does not say how to resume:\n%s", errb.String())
	}
	if took > 5*time.Second {
		t.Errorf("took %s to stop after SIGTERM", took)
	}
	if n := w.count(t, `SELECT count(*) FROM campaign_summaries`); n != 0 {
		t.Errorf("%d rows loaded by an interrupted run", n)
	}
	dirs, _ := filepath.Glob(filepath.Join(w.stage, "*"))
	if len(dirs) != 1 {
		t.Fatalf("run directories: %v", dirs)
	}
	l, err := pipeline.ReadLedger(records.RunDir(dirs[0]))
	if err != nil || l.Status != pipeline.StatusInterrupted {
		t.Fatalf("ledger after SIGTERM: %+v %v", l, err)
	}
	for id, c := range l.Clients {
		if c.Extract.Status != pipeline.StatusInterrupted {
			t.Errorf("client %s (%s): extract %s, want interrupted (its report runs were in flight)", c.Name, id, c.Extract.Status)
		}
	}
	st := w.run(t, nil, "status", "--json")
	var status struct{ Ledger struct{ Status string } } // one JSON event holding the ledger
	if err := json.Unmarshal([]byte(st.stdout), &status); err != nil || st.code != 0 || status.Ledger.Status != "interrupted" {
		t.Errorf("status --json: exit %d, status %q (%v)\n%s", st.code, status.Ledger.Status, err, st.stdout)
	}

	submitted := w.sim.Counters().Requests[graphsim.KindSubmit]
	res := w.run(t, nil, runArgs()...)
	if res.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", res.code, res.stderr)
	}
	if n := w.sim.Counters().Requests[graphsim.KindSubmit] - submitted; n != 0 {
		t.Errorf("the rerun submitted %d report runs, want 0 (the saved ones are polled)", n)
	}
	if n := w.count(t, `SELECT count(DISTINCT client_id) FROM campaign_summaries`); n != 2 {
		t.Errorf("%d clients loaded after the rerun, want 2", n)
	}
}
