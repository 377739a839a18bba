// Package pipeline runs metapipe's stages, and nothing else. It plans a run (which clients,
// which weeks: the week rules of docs/DESIGN.md), keeps the run directory (plan.json and the
// run.json ledger) and runs the stages in order: extract (with the one bulk KPI read),
// transform, load, each from the files the one before left. It takes the clients' run locks so
// that two runs never hold one client, finds an unfinished run to resume, bounds how many
// clients are extracted at once, and tells a [Reporter] how each client goes.
//
// The stages themselves are the extract, transform and load packages; rendering tables and
// progress bars is the command's business (cmd/metapipe). Errors map to exit codes through
// [ErrUsage] (2), [ErrCannotStart] (3) and [ErrSomeFailed] (1).
package pipeline
