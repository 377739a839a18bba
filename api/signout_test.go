package api_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/metapipe/metapipe/api"
	"github.com/metapipe/metapipe/graphsim"
)

// Sign-out: the pages show the button once signed in; POST /logout expires the cookie and
// sends the browser to the sign-in form, after which the pages ask for the token again. A
// cross-site POST (another site's form) is refused and keeps the cookie. Without an API token
// there is nothing to sign out of: no button.
func TestSignOut(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 1})
	svc := e.open(t, "api", 0)
	base := e.serve(t, svc)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := browser.PostForm(base+"/login", url.Values{"token": {apiToken}, "next": {"/runs"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if a := call(t, browser, "GET", base+"/runs", "", ""); a.status != http.StatusOK || !strings.Contains(string(a.body), `action="/logout"`) {
		t.Fatalf("/runs signed in: %d, want 200 with the sign-out form:\n%.400s", a.status, a.body)
	}
	logout := func(site string) answer {
		req, _ := http.NewRequest("POST", base+"/logout", nil)
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		res, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		return answer{status: res.StatusCode, header: res.Header}
	}
	if a := logout("cross-site"); a.status != http.StatusForbidden || len(a.header.Values("Set-Cookie")) != 0 {
		t.Errorf("a cross-site sign-out: %d, cookies %v; want 403 and the cookie kept", a.status, a.header.Values("Set-Cookie"))
	}
	if a := call(t, browser, "GET", base+"/runs", "", ""); a.status != http.StatusOK {
		t.Fatalf("after a refused cross-site sign-out /runs: %d, want 200 (still signed in)", a.status)
	}
	a := logout("same-origin")
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/login?signed_out=1" {
		t.Fatalf("sign out: %d to %q", a.status, a.header.Get("Location"))
	}
	if c := a.header.Get("Set-Cookie"); !strings.HasPrefix(c, "metapipe_token=;") || !strings.Contains(c, "Max-Age=0") {
		t.Errorf("sign out sets %q, want the cookie emptied with Max-Age=0", c)
	}
	if a := call(t, browser, "GET", base+"/runs", "", ""); a.status != http.StatusSeeOther || a.header.Get("Location") != "/login?next=/runs" {
		t.Errorf("/runs after signing out: %d to %q, want the sign-in form", a.status, a.header.Get("Location"))
	}
	if a := call(t, browser, "GET", base+"/login?signed_out=1", "", ""); !strings.Contains(string(a.body), "Signed out") {
		t.Errorf("the sign-in form after signing out does not say so:\n%.400s", a.body)
	}

	// No token, nothing to sign out of.
	open, err := api.New(svc, api.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(open)
	t.Cleanup(hs.Close)
	if a := call(t, http.DefaultClient, "GET", hs.URL+"/runs", "", ""); a.status != http.StatusOK || strings.Contains(string(a.body), "/logout") {
		t.Errorf("/runs without a token: %d; it should show no sign-out form", a.status)
	}
}

// The sign-out button in a real headless Chromium: signed in, the browser clicks it, lands on
// the sign-in form that says it signed out, and the runs' page asks for the token again.
func TestSignOutInABrowser(t *testing.T) {
	e := newEnv(t, graphsim.Config{Accounts: 1})
	ctx := newBrowser(t)
	base := e.serve(t, e.open(t, "api", 0))
	do(t, ctx, chromedp.Navigate(base+"/runs"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), apiToken), chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("runs")))
	do(t, ctx, chromedp.Click(chromedp.ID("sign-out")), chromedp.WaitVisible(chromedp.ID("signed-out")))
	if loc, _ := eval[string](t, ctx, `location.pathname + location.search`); loc != "/login?signed_out=1" {
		t.Errorf("after signing out the browser is at %s, want /login?signed_out=1", loc)
	}
	do(t, ctx, chromedp.Navigate(base+"/runs"), chromedp.WaitVisible(chromedp.ID("token")))
	if loc, _ := eval[string](t, ctx, `location.pathname`); loc != "/login" {
		t.Errorf("/runs after signing out shows %s, want the sign-in form", loc)
	}
}
