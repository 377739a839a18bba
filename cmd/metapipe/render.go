package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/metapipe/metapipe/internal/records"
	"github.com/metapipe/metapipe/pipeline"
)

// printPlan writes a plan as a table; syncWeeks is the threshold of synchronous reads.
func printPlan(w io.Writer, p *pipeline.Plan, syncWeeks int) {
	asOf := "as of each ad account's today"
	if p.AsOfGiven {
		asOf = "as of " + p.AsOf.String()
	}
	fmt.Fprintf(w, "%s, horizon %d weeks, lookback %d days%s\n", asOf, p.Weeks, p.Lookback, map[bool]string{true: ", --full"}[p.Full])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT\tAD ACCOUNT\tTIME ZONE\tCURRENCY\tSINCE\tUNTIL\tWEEKS\tREADS\tWHY\tREAD SO BECAUSE")
	for _, c := range p.Clients {
		reads, why, readWhy := fmt.Sprintf("%d report runs", len(records.Kinds)), c.Reason, orDash(c.ReadWhy)
		switch {
		case c.Error != "":
			reads, why, readWhy = "none", "cannot run: "+c.Error, "-"
		case c.Synchronous(syncWeeks):
			reads = fmt.Sprintf("%d synchronous", c.SyncReads(syncWeeks))
		}
		fmt.Fprintf(tw, "%s\tact_%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", c.Name, c.Account, orDash(c.TimeZone), orDash(c.Currency),
			c.Since, c.Until, c.Weeks, reads, why, readWhy)
	}
	tw.Flush()
	runs, syncs := p.Reads(syncWeeks)
	fmt.Fprintf(w, "%s, %s, %s (ranges of up to %d weeks)\n", pipeline.Counted(len(p.Clients), "client", "clients"),
		pipeline.Counted(runs, "report run", "report runs"), pipeline.Counted(syncs, "synchronous read", "synchronous reads"), syncWeeks)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printTimings writes the timing breakdown and the row counts that end a run, in lines that
// read as a table. A resumed run's are its last attempt's, the earlier attempts' on a line apart.
func printTimings(w io.Writer, l *pipeline.Ledger) {
	t, rc := l.Timings, l.Rows
	resumed := l.LastAttempt != nil && l.LastAttempt.Number > 1
	if resumed {
		t, rc = l.LastAttempt.Timings, l.LastAttempt.Rows
		fmt.Fprintf(w, "attempt %d of the run (the earlier attempts' figures are on the last line):\n", l.LastAttempt.Number)
	}
	fmt.Fprintf(w, "timings: total %.2fs\n", t.Total)
	fmt.Fprintf(w, "  %-11s%.2fs\n", "extract", t.Extract)
	fmt.Fprintf(w, "  %-11s(reports, summed: Meta jobs %.2fs, paging %.2fs)\n", "", t.JobWait, t.Paging)
	if c := l.Concurrency; c != nil {
		fmt.Fprintf(w, "  %-11s(clients at once: %s, peak %d, average %.1f, limit %d-%d)\n", "", c.Mode, c.Peak, c.Average, c.Low, c.High)
	}
	fmt.Fprintf(w, "  %-11s%.3fs\n", "KPI query", t.KPIQuery)
	fmt.Fprintf(w, "  %-11s%.3fs\n", "transform", t.Transform)
	fmt.Fprintf(w, "  %-11s%.3fs (COPY %.3fs, merge %.3fs)\n", "load", t.Load, t.Copy, t.Merge)
	fmt.Fprintf(w, "rows: %d inserted, %d updated, %d unchanged, %d deleted\n", rc.Inserted, rc.Updated, rc.Unchanged, rc.Deleted)
	// Rows whose stored figures are as of a later date than the run's: fresher data wins.
	fmt.Fprintf(w, "      %d kept (the table's are as of a later date)\n", rc.Kept)
	if resumed {
		er, et := l.Earlier()
		fmt.Fprintf(w, "earlier attempts (%d): %d inserted, %d updated, %d unchanged, %d deleted, %d kept; total %.2fs\n",
			l.LastAttempt.Number-1, er.Inserted, er.Updated, er.Unchanged, er.Deleted, er.Kept, et.Total)
	}
}

// printLedger writes run.json readably. PAGES counts result pages of report runs and
// synchronous requests (each one page), as the demo's cost table does.
func printLedger(w io.Writer, dir records.RunDir, l *pipeline.Ledger) {
	fmt.Fprintf(w, "run %s (%s), as of %s: %s, started %s, %d attempt(s)\n", l.RunID, dir, l.AsOf, l.Status,
		l.Started.Format(time.RFC3339), l.Attempts)
	for _, n := range pipeline.Stages {
		s := l.Stages[n]
		if s == nil {
			continue
		}
		line := fmt.Sprintf("  stage %-9s %-8s %7.2fs", n, s.Status, s.Seconds)
		if s.Error != "" {
			line += "  " + s.Error
		}
		fmt.Fprintln(w, line)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT\tEXTRACT\tREQUESTS\tSYNC\tSUBMITS\tPOLLS\tPAGES\tRETRIES\tTHROTTLED\tROWS\tTRANSFORM\tWEEKS\tLOAD\tERROR")
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
		if ts := c.Extract.ThrottledSince; !ts.IsZero() {
			errText = firstNonEmpty(errText, "throttled by Meta since "+ts.Local().Format(time.DateTime))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%s\t%s\n", c.Name, c.Extract.Status, s.Requests, s.Syncs, s.Submits,
			s.Polls, s.Pages+s.Syncs, s.Retries, s.Throttled, s.Rows, c.Transform.Status, c.Transform.Rows, c.Load.Status, truncate(errText, 120))
		if nf := c.Transform.NotFinal; len(nf) > 0 {
			warnings = append(warnings, fmt.Sprintf("%s: %d week(s) not final, their sums disagree with the account's totals even read again (the next run fetches them again): %s",
				c.Name, len(nf), strings.Join(nf, ", ")))
		}
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
	printTimings(w, l)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// printCost writes what each client's extraction cost in Graph API calls, against the old
// loop's four synchronous calls per week: synchronous requests, report runs, polls per run, and
// pages (of report runs' results and of synchronous reads, each synchronous request one page)
// next to the least possible (one page per report kind, or ceil(rows/pageSize)).
func printCost(w io.Writer, p *pipeline.Plan, l *pipeline.Ledger, pageSize int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "CLIENT\tWEEKS\tSYNC\tREPORT RUNS\tPOLLS\tPOLLS/RUN\tPAGES\tLEAST PAGES\tROWS\tREQUESTS\tOLD LOOP CALLS\t")
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
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.1f\t%d\t%d\t%d\t%d\t%d\t\n", cp.Name, cp.Weeks, s.Syncs, s.Submits, s.Polls, perRun,
			s.Pages+s.Syncs, least, s.Rows, s.Requests, 4*cp.Weeks)
	}
	tw.Flush()
}

// landedClient is what campaign_summaries holds for one client.
type landedClient struct {
	Name             string `json:"name"`
	Currency         string `json:"currency"`
	Weeks            int64  `json:"weeks"`
	From             string `json:"from"`
	To               string `json:"to"`
	Spend            string `json:"spend"`
	Impressions      int64  `json:"impressions"`
	BestWeeklyReach  int64  `json:"best_weekly_reach"`
	Reservations     int64  `json:"reservations"`
	ReservationValue string `json:"reservation_value"`
}

// queryLanded reads what campaign_summaries holds for the given clients: weeks, spend, reach
// and reservations per client.
func queryLanded(ctx context.Context, pool *pgxpool.Pool, clientIDs []string) ([]landedClient, error) {
	rows, err := pool.Query(ctx, `
SELECT c.name, coalesce(min(s.currency), ''), count(*), min(s.summary_date)::text, max(s.summary_date)::text,
       coalesce(sum(s.total_spend), 0)::text, coalesce(sum(s.total_impressions), 0), coalesce(max(s.reach), 0),
       coalesce(sum(s.reservations), 0), coalesce(sum(s.reservation_value), 0)::text
FROM campaign_summaries s JOIN clients c ON c.id = s.client_id
WHERE s.client_id = ANY($1::uuid[]) AND s.platform = 'meta' AND s.summary_type = 'weekly'
GROUP BY c.name ORDER BY c.name`, clientIDs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []landedClient
	for rows.Next() {
		var c landedClient
		if err := rows.Scan(&c.Name, &c.Currency, &c.Weeks, &c.From, &c.To, &c.Spend, &c.Impressions, &c.BestWeeklyReach, &c.Reservations, &c.ReservationValue); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// printLanded writes what landed as a table.
func printLanded(w io.Writer, landed []landedClient) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "CLIENT\tCURRENCY\tWEEKS\tFROM\tTO\tSPEND\tIMPRESSIONS\tBEST WEEKLY REACH\tRESERVATIONS\tRESERVATION VALUE\t")
	for _, c := range landed {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t\n", c.Name, c.Currency, c.Weeks, c.From, c.To, c.Spend, c.Impressions, c.BestWeeklyReach, c.Reservations, c.ReservationValue)
	}
	tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func truncate(s string, n int) string {
	rs := []rune(s)
	if len(rs) <= n {
		return s
	}
	return string(rs[:n-1]) + "…"
}
