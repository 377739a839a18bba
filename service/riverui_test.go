package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/service"
)

// River's UI and metapipe agree: the UI's buttons call River's client API (JobDelete,
// JobCancel, JobRetry), as done here on a run of three clients. A waiting job deleted leaves
// its client interrupted ("its job was deleted") and its staged files swept, not "waiting"
// forever; a waiting job cancelled, the same; a failed client's job retried after its token is
// fixed runs again and loads the client, its run reopened and then finished again (before, the
// retried job completed at once without running, and the client stayed failed). Each job's
// arguments name its client, never a token.
func TestRiverUIActionsKeepStatesTrue(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 3, JobDuration: 300 * time.Millisecond})
	ctx := context.Background()
	accts := e.Sim.Accounts()
	failing, deleted, cancelled := e.Clients[0], e.Clients[1], e.Clients[2]
	if _, err := e.Pool.Exec(ctx, `UPDATE clients SET meta_access_token = $1 WHERE id = $2`, graphsim.ExpiredToken, failing); err != nil {
		t.Fatal(err)
	}
	for _, a := range accts[1:] { // report runs that keep their jobs waiting (snoozed)
		e.Sim.SetFaults(a.ID, graphsim.Faults{JobDuration: 10 * time.Minute})
	}
	s := start(t, e.open(t, "worker-1", 3))
	rc := s.River()
	id, err := s.Enqueue(ctx, service.RunRequest{AsOf: lastSunday, Weeks: 6, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	jobs := map[string]int64{}
	rows, err := e.Pool.Query(ctx, `SELECT client_id::text, job_id FROM service_run_clients WHERE run_id = $1`, id)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		var j int64
		if err := rows.Scan(&c, &j); err != nil {
			t.Fatal(err)
		}
		jobs[c] = j
	}
	rows.Close()
	client := func(r *service.RunView, cid string) service.ClientView {
		for _, c := range r.Clients {
			if c.ClientID == cid {
				return c
			}
		}
		t.Fatalf("no client %s in %+v", cid, r)
		return service.ClientView{}
	}
	read := func() *service.RunView {
		r, err := s.Run(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	staged := func(cid string) bool {
		_, err := os.Stat(filepath.Join(e.Stage, "service", id, cid))
		return err == nil
	}
	// Until the two slow clients wait on Meta with their report runs staged, and the failing one failed.
	deadline := time.Now().Add(time.Minute)
	for {
		r := read()
		if client(r, deleted).State == service.StateWaiting && client(r, cancelled).State == service.StateWaiting &&
			client(r, failing).State == service.StateFailed && staged(deleted) && staged(cancelled) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the clients never reached waiting / failed: %+v", r)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The jobs name their clients, and hold no token.
	for cid, j := range jobs {
		row, err := rc.JobGet(ctx, j)
		if err != nil {
			t.Fatal(err)
		}
		name := client(read(), cid).Name
		var args service.ClientRunArgs
		if err := json.Unmarshal(row.EncodedArgs, &args); err != nil || args.Client != name || args.ClientID != cid {
			t.Errorf("job %d's args %s: want the client's name %q", j, row.EncodedArgs, name)
		}
		if args := string(row.EncodedArgs); strings.Contains(args, "token") ||
			strings.Contains(args, graphsim.DemoToken) || strings.Contains(args, graphsim.ExpiredToken) {
			t.Errorf("job %d's args hold a token: %s", j, args)
		}
	}

	// Delete, as River's UI's Delete on the waiting job.
	// River refuses to delete a running job (the UI says so): between its snoozes the job runs
	// a moment to poll Meta, so the test clicks again, as a user would.
	for {
		_, err := rc.JobDelete(ctx, jobs[deleted])
		if err == nil {
			break
		}
		if !errors.Is(err, rivertype.ErrJobRunning) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c := client(read(), deleted); c.State != service.StateInterrupted || !strings.Contains(c.Error, "deleted") || staged(deleted) {
		t.Errorf("after its job was deleted: %+v, staged files left %v; want interrupted, swept", c, staged(deleted))
	}
	// Cancel, as River's UI's Cancel on the waiting job.
	if _, err := rc.JobCancel(ctx, jobs[cancelled]); err != nil {
		t.Fatal(err)
	}
	r := read()
	for client(r, cancelled).State != service.StateInterrupted && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // a job cancelled while it polled Meta ends its attempt first
		r = read()
	}
	if c := client(r, cancelled); c.State != service.StateInterrupted || !strings.Contains(c.Error, "cancelled") || staged(cancelled) {
		t.Errorf("after its job was cancelled: %+v, staged files left %v; want interrupted, swept", c, staged(cancelled))
	}
	if r.State != "interrupted" || r.FinishedAt == nil {
		t.Errorf("the run: %s finished %v, want interrupted and over", r.State, r.FinishedAt)
	}

	// Retry, as River's UI's Retry on the failed client's job, its token fixed first; then the
	// cancelled one, Meta quick again.
	if _, err := e.Pool.Exec(ctx, `UPDATE clients SET meta_access_token = NULL WHERE id = $1`, failing); err != nil {
		t.Fatal(err)
	}
	e.Sim.SetFaults(accts[2].ID, graphsim.Faults{})
	for _, cid := range []string{failing, cancelled} {
		if _, err := rc.JobRetry(ctx, jobs[cid]); err != nil {
			t.Fatal(err)
		}
	}
	deadline = time.Now().Add(2 * time.Minute)
	for {
		r = read()
		if client(r, failing).State == service.StateDone && client(r, cancelled).State == service.StateDone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the retried jobs' clients not done after 2 minutes: %+v", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, cid := range []string{failing, cancelled} {
		var rows int
		if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM campaign_summaries WHERE client_id = $1`, cid).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if c := client(r, cid); rows == 0 || c.Error != "" || c.ReportsDone != 5 {
			t.Errorf("retried client %s: %+v, %d rows stored; want loaded", c.Name, c, rows)
		}
	}
	r = waitRun(t, s, id, time.Minute)
	if r.State != "interrupted" || client(r, deleted).State != service.StateInterrupted {
		t.Errorf("the run after the retries: %s, the deleted job's client %s; want interrupted (that client never ran)", r.State, client(r, deleted).State)
	}
}
