package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/metapipe/metapipe/graphsim"
	"github.com/metapipe/metapipe/internal/tokencrypt"
)

// runIn is w.run with standard input.
func (w *world) runIn(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	c := w.cmd(env, args...)
	c.Stdin = strings.NewReader(stdin)
	return runCmd(t, c)
}

// The clients without SQL, their tokens encrypted at rest: the demo's plain-text tokens are
// encrypted by migrate once METAPIPE_TOKEN_KEY is set; a run then works on the clients' own
// tokens (no default token) and fails clearly, exit 2 naming the variable, without the key;
// add refuses a second client on an ad account and a token without the key, and stores the
// token encrypted; set-token and deactivate change the row; a key rotation (the new key, the
// old one as METAPIPE_TOKEN_KEY_PREVIOUS) encrypts everything again under the new key. No
// output holds a token.
func TestClientsCommandsAndEncryptedTokens(t *testing.T) {
	w := newWorld(t, graphsim.Config{Accounts: 2, Seed: 3, JobDuration: 100 * time.Millisecond})
	ctx := context.Background()
	k1, k2 := bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{9}, 32)
	key1 := []string{"METAPIPE_TOKEN_KEY=" + hex.EncodeToString(k1)}
	noDefault := []string{"META_ACCESS_TOKEN="}
	stored := func() map[string]string {
		t.Helper()
		return w.textMap(t, `SELECT name, coalesce(meta_access_token, '') FROM clients`)
	}
	noToken := func(what string, r result) {
		t.Helper()
		for _, a := range w.Sim.Accounts() {
			if strings.Contains(r.stdout+r.stderr, a.Token) {
				t.Errorf("%s prints a token:\n%s%s", what, r.stdout, r.stderr)
			}
		}
	}
	names := []string{"Demo " + w.Sim.Accounts()[0].Name, "Demo " + w.Sim.Accounts()[1].Name}

	list := w.run(t, nil, "clients", "list")
	if ev := jsonLines(t, "stdout", list.stdout); list.code != 0 || len(ev) != 1 || !strings.Contains(list.stdout, `"token":"own, plain text"`) {
		t.Fatalf("clients list: exit %d\n%s%s", list.code, list.stdout, list.stderr)
	}
	noToken("clients list", list)

	// migrate with the key encrypts the plain-text tokens.
	m := w.run(t, key1, "migrate")
	if ev := jsonLines(t, "stdout", m.stdout); m.code != 0 || len(ev) != 1 || ev[0]["tokens_encrypted"] != 2.0 {
		t.Fatalf("migrate with the key: exit %d\n%s%s", m.code, m.stdout, m.stderr)
	}
	keys1, _ := tokencrypt.New(k1, nil)
	for i, a := range w.Sim.Accounts() {
		v := stored()[names[i]]
		if !keys1.Current(v) || strings.Contains(v, a.Token) {
			t.Errorf("%s's token after migrate: %.20q…, want encrypted under the key", names[i], v)
		}
		if tok, err := keys1.Decrypt(w.Clients[i], v); err != nil || tok != a.Token {
			t.Errorf("%s's token does not decrypt to the token: %v", names[i], err)
		}
	}
	// A run on the clients' own tokens only: they decrypt; without the key, exit 2.
	if r := w.run(t, append(key1, noDefault...), "run", "--weeks", "2", "--as-of", lastSunday.Format(time.DateOnly)); r.code != 0 {
		t.Errorf("run with the key: exit %d\n%s", r.code, r.stderr)
	}
	r := w.run(t, noDefault, "run", "--weeks", "2", "--as-of", lastSunday.Format(time.DateOnly))
	if r.code != 2 || !strings.Contains(r.stderr, "METAPIPE_TOKEN_KEY") || !strings.Contains(r.stderr, "client Demo ") {
		t.Errorf("run without the key: exit %d, want 2 naming METAPIPE_TOKEN_KEY and the client:\n%s", r.code, r.stderr)
	}
	noToken("run without the key", r)

	// add: the same ad account refused; a token without the key refused; with it, encrypted.
	acct := w.Sim.Accounts()[0].ID
	if r := w.run(t, key1, "clients", "add", "--name", "Twin", "--ad-account", acct); r.code != 2 || !strings.Contains(r.stderr, names[0]) {
		t.Errorf("add on %s's ad account: exit %d, want 2 naming it:\n%s", names[0], r.code, r.stderr)
	}
	if r := w.runIn(t, "EAAB-new-CANARY\n", nil, "clients", "add", "--name", "Extra", "--ad-account", "act_999", "--token-stdin"); r.code != 2 ||
		!strings.Contains(r.stderr, "METAPIPE_TOKEN_KEY is not set") {
		t.Errorf("add with a token, no key: exit %d, want 2:\n%s", r.code, r.stderr)
	}
	r = w.runIn(t, "EAAB-new-CANARY\n", key1, "clients", "add", "--name", "Extra", "--ad-account", "act_999", "--token-stdin")
	if r.code != 0 || strings.Contains(r.stdout+r.stderr, "EAAB-new-CANARY") {
		t.Fatalf("add: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	id := jsonLines(t, "stdout", r.stdout)[0]["client"].(map[string]any)["id"].(string)
	if tok, err := keys1.Decrypt(id, stored()["Extra"]); err != nil || tok != "EAAB-new-CANARY" {
		t.Errorf("Extra's stored token: %v", err)
	}
	if r := w.run(t, key1, "clients", "add", "--name", "Extra", "--ad-account", "act_1000"); r.code != 2 || !strings.Contains(r.stderr, "named") {
		t.Errorf("add of a name taken: exit %d\n%s", r.code, r.stderr)
	}
	if r := w.run(t, nil, "clients", "set-token", "--client", "Extra", "--default"); r.code != 0 || stored()["Extra"] != "" {
		t.Errorf("set-token --default: exit %d, stored %q\n%s", r.code, stored()["Extra"], r.stderr)
	}
	if r := w.runIn(t, "EAAB-newer-CANARY", key1, "clients", "set-token", "--client", id, "--token-stdin"); r.code != 0 {
		t.Errorf("set-token: exit %d\n%s", r.code, r.stderr)
	}
	if tok, err := keys1.Decrypt(id, stored()["Extra"]); err != nil || tok != "EAAB-newer-CANARY" {
		t.Errorf("Extra's token after set-token: %v", err)
	}
	if r := w.run(t, nil, "clients", "deactivate", "--client", "Extra"); r.code != 0 {
		t.Errorf("deactivate: exit %d\n%s", r.code, r.stderr)
	}
	var active bool
	if err := w.Pool.QueryRow(ctx, `SELECT active FROM clients WHERE name = 'Extra'`).Scan(&active); err != nil || active {
		t.Errorf("Extra active after deactivate: %v %v", active, err)
	}
	if r := w.run(t, nil, "clients", "deactivate", "--client", "Nobody"); r.code != 2 {
		t.Errorf("deactivate of no client: exit %d", r.code)
	}

	// Two clients on one ad account (by SQL, as add refuses it): plan and run name them.
	if _, err := w.Pool.Exec(ctx, `INSERT INTO clients (name, meta_ad_account_id) VALUES ('Twin by SQL', $1)`, acct); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"plan", "run"} {
		r := w.run(t, key1, cmd, "--weeks", "1", "--as-of", lastSunday.Format(time.DateOnly))
		if !strings.Contains(r.stderr, "clients share an ad account") || !strings.Contains(r.stderr, names[0]+", Twin by SQL") {
			t.Errorf("%s with two clients on one ad account: no warning naming them:\n%s", cmd, r.stderr)
		}
	}
	if list := w.run(t, nil, "clients", "list"); !strings.Contains(list.stdout, `"shares_account_with":["Twin by SQL"]`) {
		t.Errorf("clients list does not name the shared ad account:\n%s", list.stdout)
	}
	if r := w.run(t, nil, "clients", "deactivate", "--client", "Twin by SQL"); r.code != 0 {
		t.Fatalf("deactivate: exit %d", r.code)
	}

	// Rotation: migrate with the new key and the old one as the previous.
	rotate := []string{"METAPIPE_TOKEN_KEY=" + hex.EncodeToString(k2), "METAPIPE_TOKEN_KEY_PREVIOUS=" + hex.EncodeToString(k1)}
	if m := w.run(t, rotate, "migrate"); m.code != 0 || jsonLines(t, "stdout", m.stdout)[0]["tokens_encrypted"] != 3.0 {
		t.Fatalf("migrate to the new key: exit %d\n%s%s", m.code, m.stdout, m.stderr)
	}
	keys2, _ := tokencrypt.New(k2, nil)
	for n, v := range stored() {
		if v != "" && !keys2.Current(v) {
			t.Errorf("%s's token after the rotation is not under the new key", n)
		}
	}
	key2 := []string{"METAPIPE_TOKEN_KEY=" + hex.EncodeToString(k2)}
	if r := w.run(t, append(key2, noDefault...), "run", "--weeks", "2", "--as-of", lastSunday.Format(time.DateOnly)); r.code != 0 {
		t.Errorf("run with the new key alone: exit %d\n%s", r.code, r.stderr)
	}
	list = w.run(t, nil, "clients", "list")
	if strings.Contains(list.stdout, "plain text") || !strings.Contains(list.stdout, `"active":false`) {
		t.Errorf("clients list after all: %s", list.stdout)
	}
}
