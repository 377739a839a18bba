package graphsim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/metapipe/metapipe/graphsim"
)

// A report run from submit to results, with an injected clock.
func Example() {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	sim := graphsim.New(graphsim.Config{Seed: 1, Now: func() time.Time { return now }})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	acct := sim.Accounts()[0]

	getJSON := func(resp *http.Response, v any) int {
		defer resp.Body.Close()
		_ = json.NewDecoder(resp.Body).Decode(v)
		return resp.StatusCode
	}

	resp, _ := http.PostForm(srv.URL+"/v25.0/act_"+acct.ID+"/insights", url.Values{
		"access_token":   {acct.Token},
		"level":          {"account"},
		"fields":         {"spend,impressions,reach"},
		"time_range":     {`{"since":"2026-11-16","until":"2026-11-29"}`},
		"time_increment": {"7"},
	})
	var run struct {
		ID string `json:"report_run_id"`
	}
	getJSON(resp, &run)

	results := srv.URL + "/v25.0/" + run.ID + "/insights?access_token=" + acct.Token
	resp, _ = http.Get(results)
	fmt.Println("too early:", getJSON(resp, &struct{}{}))

	now = now.Add(3 * time.Second) // the default JobDuration is 2s
	var status struct {
		Status string `json:"async_status"`
	}
	resp, _ = http.Get(srv.URL + "/v25.0/" + run.ID + "?access_token=" + acct.Token)
	getJSON(resp, &status)
	fmt.Println(status.Status)

	var page struct {
		Data []map[string]any `json:"data"`
	}
	resp, _ = http.Get(results)
	getJSON(resp, &page)
	for _, row := range page.Data {
		fmt.Println(row["date_start"], row["date_stop"])
	}
	// Output:
	// too early: 400
	// Job Completed
	// 2026-11-16 2026-11-22
	// 2026-11-23 2026-11-29
}
