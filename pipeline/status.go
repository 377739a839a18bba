package pipeline

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// PrintPlan writes a plan as a table.
func PrintPlan(w io.Writer, p *Plan) {
	fmt.Fprintf(w, "as of %s, horizon %d weeks from %s, lookback %d days%s\n", p.AsOf, p.Weeks, p.HorizonStart, p.Lookback, map[bool]string{true: ", --full"}[p.Full])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT\tAD ACCOUNT\tSINCE\tUNTIL\tWEEKS\tREPORT RUNS\tWHY")
	for _, c := range p.Clients {
		fmt.Fprintf(tw, "%s\tact_%s\t%s\t%s\t%d\t%d\t%s\n", c.Name, c.Account, c.Since, c.Until, c.Weeks, 5, c.Reason)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d clients, %d report runs\n", len(p.Clients), p.ReportRuns())
}

// PrintTimings writes the timing breakdown that ends a run.
func PrintTimings(w io.Writer, l *Ledger) {
	t := l.Timings
	fmt.Fprintf(w, "timings: total %.2fs | extract %.2fs (summed over report runs: waiting on Meta jobs %.2fs, paging %.2fs) | KPI query %.3fs | transform %.3fs | load %.3fs (COPY %.3fs, merge %.3fs)\n",
		t.Total, t.Extract, t.JobWait, t.Paging, t.KPIQuery, t.Transform, t.Load, t.Copy, t.Merge)
	fmt.Fprintf(w, "rows: %d inserted, %d updated, %d unchanged, %d deleted\n", t.Inserted, t.Updated, t.Unchanged, t.Deleted)
}

// PrintLedger writes run.json readably.
func PrintLedger(w io.Writer, dir string, l *Ledger) {
	fmt.Fprintf(w, "run %s (%s), as of %s: %s, started %s, %d attempt(s)\n", l.RunID, dir, l.AsOf, l.Status,
		l.Started.Format(time.RFC3339), l.Attempts)
	names := make([]string, 0, len(l.Stages))
	for n := range l.Stages {
		names = append(names, n)
	}
	order := map[string]int{"extract": 0, "kpi": 1, "transform": 2, "load": 3}
	sort.Slice(names, func(i, j int) bool { return order[names[i]] < order[names[j]] })
	for _, n := range names {
		s := l.Stages[n]
		line := fmt.Sprintf("  stage %-9s %-8s %7.2fs", n, s.Status, s.Seconds)
		if s.Error != "" {
			line += "  " + s.Error
		}
		fmt.Fprintln(w, line)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT\tEXTRACT\tREQUESTS\tSUBMITS\tPOLLS\tPAGES\tRETRIES\tTHROTTLED\tROWS\tTRANSFORM\tWEEKS\tLOAD\tERROR")
	ids := make([]string, 0, len(l.Clients))
	for id := range l.Clients {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return l.Clients[ids[i]].Name < l.Clients[ids[j]].Name })
	var warnings []string
	for _, id := range ids {
		c := l.Clients[id]
		s := c.Extract.Stats
		errText := firstNonEmpty(c.Extract.Error, c.Transform.Error, c.Load.Error)
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%s\t%s\n", c.Name, c.Extract.Status, s.Requests, s.Submits,
			s.Polls, s.Pages, s.Retries, s.Throttled, s.Rows, c.Transform.Status, c.Transform.Rows, c.Load.Status, truncate(errText, 120))
		for _, w := range c.Transform.Warnings {
			warnings = append(warnings, c.Name+": "+w)
		}
	}
	tw.Flush()
	if len(warnings) > 0 {
		fmt.Fprintf(w, "%d warning(s):\n", len(warnings))
		for i, x := range warnings {
			if i == 20 {
				fmt.Fprintf(w, "  … %d more in run.json\n", len(warnings)-20)
				break
			}
			fmt.Fprintln(w, "  "+x)
		}
	}
	PrintTimings(w, l)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// LatestRun returns the newest run directory under stageDir, or "".
func LatestRun(stageDir string) string {
	entries, err := os.ReadDir(stageDir)
	if err != nil {
		return ""
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			if _, err := os.Stat(PlanPath(filepath.Join(stageDir, e.Name()))); err == nil {
				dirs = append(dirs, e.Name())
			}
		}
	}
	if len(dirs) == 0 {
		return ""
	}
	sort.Strings(dirs) // run ids start with a UTC timestamp
	return filepath.Join(stageDir, dirs[len(dirs)-1])
}

// PrintCost writes what each client's extraction cost in Graph API calls, against the old
// loop's four synchronous calls per week: report runs, polls per run, and result pages next to
// the least possible (one page per run, or ceil(rows/pageSize)).
func PrintCost(w io.Writer, p *Plan, l *Ledger, pageSize int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "CLIENT\tWEEKS\tREPORT RUNS\tPOLLS\tPOLLS/RUN\tPAGES\tLEAST PAGES\tROWS\tREQUESTS\tOLD LOOP CALLS\t")
	for _, cp := range p.Clients {
		c := l.Clients[cp.ID]
		if c == nil {
			continue
		}
		s := c.Extract.Stats
		least := 0
		for _, k := range c.Extract.Kinds {
			least += max(1, (k.Rows+pageSize-1)/pageSize)
		}
		perRun := 0.0
		if s.Submits > 0 {
			perRun = float64(s.Polls) / float64(s.Submits)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%d\t%d\t%d\t%d\t%d\t\n", cp.Name, cp.Weeks, s.Submits, s.Polls, perRun, s.Pages, least, s.Rows, s.Requests, 4*cp.Weeks)
	}
	tw.Flush()
}
