package service

// ClientState is a client's state in a run (service_run_clients.state, ClientView.State).
type ClientState string

// A client's state in a run.
const (
	StateQueued      ClientState = "queued"      // its job waits for a worker
	StatePlanning    ClientState = "planning"    // reading its ad account and sync state
	StateExtracting  ClientState = "extracting"  // submitting, polling, reading its report runs
	StateWaiting     ClientState = "waiting"     // snoozed: Meta works, or another run holds the client
	StateLoading     ClientState = "loading"     // KPI read, transform and load
	StateDone        ClientState = "done"        // loaded
	StateFailed      ClientState = "failed"      // gave up: a permanent error, or River's attempts spent
	StateInterrupted ClientState = "interrupted" // its job was cancelled or deleted (River's UI)
)

// clientStates is every client state, in the order of a client's life, and whether a client
// in it is over (its job will not work it again unless River's UI retries it). The CHECK
// constraint of service_run_clients.state holds the same set (TestClientStatesMatchCheck):
// a new state is one entry here and a migration that changes the constraint.
var clientStates = []struct {
	state ClientState
	over  bool
}{
	{StateQueued, false},
	{StatePlanning, false},
	{StateExtracting, false},
	{StateWaiting, false},
	{StateLoading, false},
	{StateDone, true},
	{StateFailed, true},
	{StateInterrupted, true},
}

// ClientStates lists every client state, in the order of a client's life.
func ClientStates() []ClientState {
	out := make([]ClientState, len(clientStates))
	for i, s := range clientStates {
		out[i] = s.state
	}
	return out
}

// Over says whether a client in state s is over: loaded, failed or interrupted.
func (s ClientState) Over() bool {
	for _, c := range clientStates {
		if c.state == s {
			return c.over
		}
	}
	return false
}

// overStates is the client states that are over, as the text[] parameter of the SQL that
// tells them apart (`state <> ALL ($n)`, `state = ANY ($n)`).
var overStates = func() []string {
	var out []string
	for _, c := range clientStates {
		if c.over {
			out = append(out, string(c.state))
		}
	}
	return out
}()

// RunState is a run's state (RunView.State), derived from its clients' states by runStateOf;
// it is not stored.
type RunState string

// A run's state.
const (
	RunQueued      RunState = "queued"      // no client started
	RunRunning     RunState = "running"     // a client started and one is not over
	RunDone        RunState = "done"        // every client loaded
	RunPartial     RunState = "partial"     // every client over, some loaded
	RunFailed      RunState = "failed"      // every client over, none loaded
	RunInterrupted RunState = "interrupted" // every client over, one interrupted
)

// RunStates lists every run state: those not over first (metapipe_runs_in_progress), then
// those over (metapipe_runs_finished_total).
var RunStates = []RunState{RunQueued, RunRunning, RunDone, RunPartial, RunFailed, RunInterrupted}

// Over says whether a run in state r is over: every client of it is.
func (r RunState) Over() bool { return r != RunQueued && r != RunRunning }

// runStatesOver is the run states over (over), or not over.
func runStatesOver(over bool) []RunState {
	var out []RunState
	for _, r := range RunStates {
		if r.Over() == over {
			out = append(out, r)
		}
	}
	return out
}

// runStateOf derives a run's state from how many of its clients are in each state: queued
// until one starts, running until all are over, then interrupted (one was cancelled), done
// (all loaded), partial (some loaded) or failed (none). A run without clients is queued.
func runStateOf(n map[ClientState]int) RunState {
	total, over := 0, 0
	for st, k := range n {
		total += k
		if st.Over() {
			over += k
		}
	}
	switch {
	case n[StateQueued] == total:
		return RunQueued
	case over < total:
		return RunRunning
	case n[StateInterrupted] > 0:
		return RunInterrupted
	case n[StateDone] == total:
		return RunDone
	case n[StateDone] > 0:
		return RunPartial
	}
	return RunFailed
}
