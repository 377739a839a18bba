// Package transform turns the raw Parquet staged by extract into one summary row per client and
// ISO week: `<run>/extract/<client>/<kind>.parquet` and `<run>/extract/kpi.parquet` in,
// `<run>/transform/summaries.parquet` out. It is pure: files in, files out, no network, no
// database.
//
// # Streaming
//
// Run first scans the client_id column of kpi.parquet and notes where each client's rows are,
// then handles the clients a few at a time (one per processor): it reads their KPI days and
// report files, builds their weekly rows side by side, and writes them to the output in input
// order while the next few are built. Memory is bounded by about twice that many clients' data
// plus one Parquet row group of output ([records.SummaryRowGroupRows] rows), however many
// clients the run has.
//
// # Reading columns
//
// The staged files are written by parquet-go (internal/records) and read here column by column
// with Apache Arrow (arrow-go's pqarrow): each report kind reads only its columns, as typed
// arrays (Date32, Int64, String, List<Struct>) a record batch of at most one row group at a
// time, and the row checks loop over them by index; kpi.parquet is read a row group at a time.
// Figures are exact decimals in github.com/quagmt/udecimal (128-bit fixed point, no allocation);
// which text is a decimal is shopspring's grammar, as it always was. A value with more than 19
// decimal places is refused ([ErrPrecision]). BENCHMARKS.md has the figures.
//
// # Failures
//
// A client whose files are missing or malformed (a spend that is not a decimal, a week that does
// not start on a Monday, a campaign listed twice in one week, …) is skipped: its error, an
// [*InputError] naming the client, the file, the row and the field, is recorded in
// [Result.PerClient] and none of its rows are written, while the other clients are transformed
// as usual. Run itself returns an error only for failures that affect every client: a missing
// or malformed kpi.parquet, an output that cannot be written, a cancelled context. In that case
// no output file is left behind (it is written under a temporary name and renamed at the end).
//
// # Figures
//
// Per client and week (docs/DESIGN.md, "Figures"):
//
//   - total_spend, total_impressions, total_clicks are the sums of the week's campaign rows in
//     exact decimal arithmetic; a week that has an account row but no campaign rows falls back to
//     the account row's figures. reach and frequency come from the account row only.
//   - ctr, cpc, cpm, roas and cost_per_reservation are computed from those sums (roas and
//     cost_per_reservation use total_spend as stored, rounded to 2 decimals), NULL where the
//     divisor is 0 or NULL, and rounded half away from zero to 4 decimals with an exact division
//     ([decimal.Decimal.DivRound]), never through a float or a truncated quotient.
//   - KPI columns are sums over the week's days from the Monday to the account row's date_stop
//     (the as-of date in the current, partial week), so ad figures and KPI figures cover the same
//     days. kpi_days counts the days present. When kpi_days is 0 every KPI column is NULL
//     (unknown is not zero). A NULL value on a present day is left out of that column's sum; a
//     column whose value is NULL on every present day is NULL.
//   - A campaign "has delivery" when its impressions are > 0: those campaigns are counted in
//     active_campaigns and listed in campaign_data. The totals still sum every campaign row.
//
// # JSON
//
// campaign_data and meta_tables are written by hand, byte for byte deterministic: keys in the
// order docs/DESIGN.md lists them (action types sorted), no HTML escaping, non-ASCII text as UTF-8.
// Numbers are JSON numbers written from exact decimals: money (spend) with exactly 2 decimals
// ("12.30"), ctr/cpc/cpm with exactly 4 decimals ("1.2346") or null when the divisor is 0,
// counts as integers, and action values as the shortest exact decimal of Meta's value ("3",
// "1.5"). Arrays are [] when empty, never null.
//
// # Checks
//
// The sums of the campaign, placement and demographic rows of a week are compared with the
// account row. Spend may differ by at most 0.01 per row summed (Meta rounds each row); counts
// must agree exactly. Each disagreement becomes a [Warning] with Check
// "<kind>_vs_account_<figure>", e.g. "placements_vs_account_spend". Rows of a week without an
// account row give a "<kind>_without_account" warning and are otherwise ignored.
package transform
