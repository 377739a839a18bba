package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/metapipe/metapipe/extract"
	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/tokencrypt"
	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/service"
)

// The clients in the API: list (whose token each uses, never a token), add (201; a second
// client on an ad account is 409 naming the first; a bad ad account 400 naming the field; a
// token without METAPIPE_TOKEN_KEY 400), set a token (stored encrypted, opening to the token
// for this client), back to the default, deactivate, 404 for no client, 401 without the API
// token, 403 for a cross-site write. No answer holds a token.
func TestClientsAPI(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 2})
	ctx := context.Background()
	raw := bytes.Repeat([]byte{5}, 32)
	keys, err := tokencrypt.New(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	open := func(keys tokencrypt.Keys) string {
		s, err := service.Open(ctx, service.Config{Pipeline: pipeline.Config{DatabaseURL: e.DBURL, GraphURL: e.URL,
			Token: extract.NewToken(graphsim.DemoToken), StageDir: e.Stage, TokenKeys: keys, Sync: extract.SyncConfig{Weeks: extract.SyncNever}},
			ID: "api", Logger: slog.New(slog.NewJSONHandler(e.logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return e.serve(t, s)
	}
	base, noKey := open(keys), open(tokencrypt.Keys{})
	var answers []answer
	do := func(method, base, path, body string) answer {
		t.Helper()
		a := call(t, noRedirect, method, base+path, bearer, body)
		answers = append(answers, a)
		return a
	}

	a := do("GET", base, "/v1/clients", "")
	var list struct{ Clients []pipeline.ClientInfo }
	if err := json.Unmarshal(a.body, &list); a.status != 200 || err != nil || len(list.Clients) != 2 || list.Clients[0].Token != "own, plain text" {
		t.Fatalf("GET /v1/clients: %d %s", a.status, a.body)
	}
	acct := e.Sim.Accounts()[0].ID
	if a := do("POST", base, "/v1/clients", `{"name": "Twin", "ad_account_id": "`+acct+`"}`); a.status != http.StatusConflict ||
		a.json(t)["client"] != e.names[0] || a.json(t)["field"] != "ad_account_id" {
		t.Errorf("a second client on %s's ad account: %d %s, want 409 naming it", e.names[0], a.status, a.body)
	}
	if a := do("POST", base, "/v1/clients", `{"name": "Bad", "ad_account_id": "act_12x"}`); a.status != 400 || a.json(t)["field"] != "ad_account_id" {
		t.Errorf("a bad ad account: %d %s", a.status, a.body)
	}
	if a := do("POST", base, "/v1/clients", `{"name": "Bad", "ad_account_id": "act_12", "colour": 1}`); a.status != 400 || a.json(t)["field"] != "colour" {
		t.Errorf("an unknown field: %d %s", a.status, a.body)
	}
	if a := do("POST", noKey, "/v1/clients", `{"name": "Keyless", "ad_account_id": "act_4242", "token": "EAAB-keyless-CANARY"}`); a.status != 400 ||
		a.json(t)["field"] != "token" || !strings.Contains(string(a.body), "METAPIPE_TOKEN_KEY") {
		t.Errorf("a token without the key: %d %s", a.status, a.body)
	}
	a = do("POST", base, "/v1/clients", `{"name": "New Client", "ad_account_id": "4242", "token": "EAAB-api-CANARY"}`)
	var added pipeline.ClientInfo
	if err := json.Unmarshal(a.body, &added); a.status != http.StatusCreated || err != nil || added.AdAccount != "act_4242" ||
		added.Token != "own, encrypted" || !added.Active || a.header.Get("Location") != "/v1/clients/"+added.ID {
		t.Fatalf("POST /v1/clients: %d %s", a.status, a.body)
	}
	stored := func() string {
		var v *string
		if err := e.Pool.QueryRow(ctx, `SELECT meta_access_token FROM clients WHERE id = $1`, added.ID).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v == nil {
			return ""
		}
		return *v
	}
	if tok, err := keys.Decrypt(added.ID, stored()); err != nil || tok != "EAAB-api-CANARY" {
		t.Errorf("the stored token does not open to the token given: %v", err)
	}
	if a := do("PUT", base, "/v1/clients/"+added.ID+"/token", `{"token": "EAAB-rotated-CANARY"}`); a.status != 200 {
		t.Errorf("PUT token: %d %s", a.status, a.body)
	}
	if tok, err := keys.Decrypt(added.ID, stored()); err != nil || tok != "EAAB-rotated-CANARY" {
		t.Errorf("the token after PUT: %v", err)
	}
	if a := do("PUT", base, "/v1/clients/New%20Client/token", `{"default": true}`); a.status != 200 || a.json(t)["token"] != "default" || stored() != "" {
		t.Errorf("PUT default (by name): %d %s; stored %q", a.status, a.body, stored())
	}
	if a := do("PUT", base, "/v1/clients/"+added.ID+"/token", `{}`); a.status != 400 {
		t.Errorf("PUT without token or default: %d", a.status)
	}
	if a := do("POST", base, "/v1/clients/"+added.ID+"/deactivate", ""); a.status != 200 || a.json(t)["active"] != false {
		t.Errorf("deactivate: %d %s", a.status, a.body)
	}
	if a := do("POST", base, "/v1/clients/nobody/deactivate", ""); a.status != 404 {
		t.Errorf("deactivate nobody: %d %s", a.status, a.body)
	}
	if a := call(t, noRedirect, "GET", base+"/v1/clients", "", ""); a.status != 401 {
		t.Errorf("GET /v1/clients without the token: %d", a.status)
	}
	if code := crossSitePost(t, base+"/v1/clients/"+added.ID+"/deactivate", ""); code != http.StatusForbidden {
		t.Errorf("a cross-site write: %d, want 403", code)
	}
	for _, a := range answers {
		for _, tok := range []string{"CANARY", graphsim.DemoToken, "sim-token-"} {
			if strings.Contains(string(a.body), tok) {
				t.Errorf("an answer holds a token: %s", a.body)
			}
		}
	}
}
