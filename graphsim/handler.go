package graphsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var versionRE = regexp.MustCompile(`^v\d+\.\d+$`)

// request is one parsed call.
type request struct {
	kind   string
	params url.Values
	token  string
	acct   *account // the account the call is for, once known
	run    *run
}

// ServeHTTP answers the Graph API endpoints listed in the package comment.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	s.mu.Lock()
	s.counters.PeakInFlight = max(s.counters.PeakInFlight, n)
	s.mu.Unlock()

	req := &request{kind: KindOther}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	route := s.route(r.Method, segs, req)
	if !s.sleep(r, req.kind) {
		return
	}

	if err := r.ParseForm(); err != nil {
		s.fail(w, req, badParam("could not parse the request parameters"))
		return
	}
	req.params = r.Form

	if e := s.authenticate(r, req); e != nil {
		s.fail(w, req, e)
		return
	}
	if len(segs) >= 1 && s.deprecated(segs[0]) {
		newest := cmpOr(s.cfg.NewestVersion, s.cfg.OldestVersion)
		s.fail(w, req, &apiError{status: 400, code: 2635,
			msg: "(#2635) You are calling a deprecated version of the Ads API. Please update to the latest version: " + newest + "."})
		return
	}
	if route == nil {
		obj := ""
		if len(segs) >= 2 {
			obj = segs[1]
		}
		s.fail(w, req, unsupported(r.Method, obj))
		return
	}

	if e := s.resolve(r.Method, segs[1], req); e != nil {
		s.fail(w, req, e)
		return
	}
	if e := s.account(req); e != nil {
		s.fail(w, req, e)
		return
	}
	route(w, r, req)
}

// route finds the endpoint of a request (segs: the path's segments, the version first) and
// sets req.kind; nil for an endpoint the simulator does not serve.
func (s *Simulator) route(method string, segs []string, req *request) func(http.ResponseWriter, *http.Request, *request) {
	if len(segs) < 2 || !versionRE.MatchString(segs[0]) {
		return nil
	}
	isAct := strings.HasPrefix(segs[1], "act_")
	insights := len(segs) == 3 && segs[2] == "insights"
	switch {
	case insights && isAct && method == http.MethodPost:
		req.kind = KindSubmit
		return s.submit
	case insights && isAct && method == http.MethodGet:
		req.kind = KindSync
		return s.sync
	case insights && !isAct && method == http.MethodGet:
		req.kind = KindResults
		return s.readResults
	case len(segs) == 2 && !isAct && method == http.MethodGet:
		req.kind = KindPoll
		return s.poll
	case len(segs) == 2 && isAct && method == http.MethodGet:
		req.kind = KindAccount
		return s.adAccount
	}
	return nil
}

// resolve finds the ad account (and the report run) a call on obj is for, and checks that the
// request's token may read it: (#100) unsupported for an unknown object, (#200) for another
// account's token.
func (s *Simulator) resolve(method, obj string, req *request) *apiError {
	if req.kind == KindSubmit || req.kind == KindSync || req.kind == KindAccount {
		req.acct = s.accounts[trimAct(obj)]
	} else {
		s.mu.Lock()
		req.run = s.runs[obj]
		s.mu.Unlock()
		if req.run != nil {
			req.acct = req.run.acct
		}
	}
	if req.acct == nil {
		return unsupported(method, obj)
	}
	if req.token != DemoToken && req.token != req.acct.Token {
		return &apiError{status: 400, code: 200, msg: "(#200) Permissions error"}
	}
	return nil
}

// sleep waits the latency of a request of the kind: KindLatency's, else Latency ± Jitter; false
// when the client went away.
func (s *Simulator) sleep(r *http.Request, kind string) bool {
	l := Latency{s.cfg.Latency, s.cfg.Jitter}
	if kl, ok := s.cfg.KindLatency[kind]; ok {
		l = kl
	}
	d := l.Base
	if l.Jitter > 0 {
		d += time.Duration(rand.Int64N(int64(2*l.Jitter)+1)) - l.Jitter
	}
	return wait(r, d)
}

// wait waits d; false when the client went away first.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func unsupported(method, obj string) *apiError {
	return &apiError{status: 400, code: 100, subcode: 33, typ: "GraphMethodException", msg: fmt.Sprintf(
		"Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
		strings.ToLower(method), obj)}
}

// authenticate finds the token and checks it and its appsecret_proof.
func (s *Simulator) authenticate(r *http.Request, req *request) *apiError {
	tok := req.params.Get("access_token")
	if tok == "" {
		h := r.Header.Get("Authorization")
		for _, scheme := range []string{"OAuth ", "Bearer "} {
			if len(h) > len(scheme) && strings.EqualFold(h[:len(scheme)], scheme) {
				tok = strings.TrimSpace(h[len(scheme):])
			}
		}
	}
	req.token = tok
	switch {
	case tok == "":
		return &apiError{status: 400, code: 190, msg: "An access token is required to request this resource."}
	case tok == ExpiredToken:
		return &apiError{status: 400, code: 190, subcode: 463,
			msg: "Error validating access token: Session has expired on Friday, 01-Jan-2021 00:00:00 PST. The current time is " + s.cfg.Now().UTC().Format("Monday, 02-Jan-06 15:04:05") + " UTC."}
	}
	known := tok == DemoToken
	for _, a := range s.world.accounts {
		known = known || tok == a.Token
	}
	if !known {
		return &apiError{status: 400, code: 190, msg: "Invalid OAuth access token - Cannot parse access token"}
	}
	if s.cfg.AppSecret != "" {
		proof := req.params.Get("appsecret_proof")
		if proof == "" && s.cfg.RequireProof {
			return &apiError{status: 400, code: 100, msg: "The access token could not be decrypted: appsecret_proof is required"}
		}
		if proof != "" {
			m := hmac.New(sha256.New, []byte(s.cfg.AppSecret))
			m.Write([]byte(tok))
			want := hex.EncodeToString(m.Sum(nil))
			if !hmac.Equal([]byte(strings.ToLower(proof)), []byte(want)) {
				return &apiError{status: 400, code: 100, msg: "Invalid appsecret_proof provided in the API argument"}
			}
		}
	}
	return nil
}

// account counts an authorised call for req.acct, records it in the usage window and plays
// the scripted throttle and server-error faults.
func (s *Simulator) account(req *request) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := req.acct.ID
	ac := s.acctCounters(id)
	ac.Requests[req.kind]++
	s.counters.ByAccount[id] = ac

	now := s.cfg.Now()
	calls := s.window(id, now)
	s.usage[id] = append(calls, now)

	fs := s.faults[id]
	fs.requests++
	f := fs.f
	switch {
	case f.ThrottleEvery > 0 && fs.requests%f.ThrottleEvery == 0:
		return throttleError(f.ThrottleCode, f.RegainMinutes)
	case f.ServerErrorEvery > 0 && fs.requests%f.ServerErrorEvery == 0:
		return &apiError{status: 500, code: 2, transient: true,
			msg: "An unexpected error has occurred. Please retry your request later."}
	case f.ThrottleFor > 0 && (fs.throttleFrom.IsZero() || now.Sub(fs.throttleFrom) < f.ThrottleFor):
		if fs.throttleFrom.IsZero() {
			fs.throttleFrom = now
		}
		return throttleError(f.ThrottleCode, 0)
	case s.cfg.EnforceBudget && len(calls)+1 > s.cfg.CallBudget:
		regain := int(s.cfg.UsageWindow.Minutes() + 0.999)
		return throttleError(80000, regain)
	case req.kind == KindAccount && f.AccountTooLarge > 0 && fs.accountReads < f.AccountTooLarge:
		fs.accountReads++
		return &apiError{status: 500, code: 1, msg: "Please reduce the amount of data you're asking for, then retry your request"}
	}
	return nil
}

func throttleError(code, regain int) *apiError {
	if code == 0 {
		code = 80000
	}
	e := &apiError{status: 400, code: code, subcode: 2446079, throttled: true, regain: regain}
	switch code {
	case 4:
		e.msg = "(#4) Application request limit reached"
	case 17:
		e.msg = "(#17) User request limit reached"
	case 32:
		e.msg = "(#32) Page request limit reached"
	case 613:
		e.msg = "(#613) Calls to this api have exceeded the rate limit."
	case 80000:
		e.msg = "(#80000) There have been too many calls from this ad-account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting."
	default:
		e.msg = fmt.Sprintf("(#%d) There have been too many calls to this ad-account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-management.", code)
	}
	return e
}

// window prunes and returns the account's calls in the usage window; call with s.mu held.
func (s *Simulator) window(id string, now time.Time) []time.Time {
	calls := s.usage[id]
	cut := now.Add(-s.cfg.UsageWindow)
	i := 0
	for i < len(calls) && !calls[i].After(cut) {
		i++
	}
	return calls[i:]
}

// setUsage writes the four usage headers. throttled gives usage 100 % and the regain minutes.
func (s *Simulator) setUsage(w http.ResponseWriter, req *request, throttled bool, regain int) {
	s.mu.Lock()
	now := s.cfg.Now()
	cut := now.Add(-s.cfg.UsageWindow)
	i := 0
	for i < len(s.appUsage) && !s.appUsage[i].After(cut) {
		i++
	}
	s.appUsage = append(s.appUsage[i:], now)
	appPct := min(100, len(s.appUsage)*100/s.cfg.AppCallBudget)
	accPct, reset := 0.0, 0
	var f Faults
	if req.acct != nil {
		f = s.faults[req.acct.ID].f
		calls := s.window(req.acct.ID, now)
		s.usage[req.acct.ID] = calls
		accPct = min(100, float64(len(calls))*100/float64(s.cfg.CallBudget))
		if len(calls) > 0 {
			reset = int(calls[0].Add(s.cfg.UsageWindow).Sub(now).Seconds() + 0.999)
		}
	}
	s.mu.Unlock()
	if throttled {
		accPct = 100
	}
	pct := int(accPct)
	other := int(f.OtherUsageAt)
	h := w.Header()
	appCalls := max(appPct, other)
	h.Set("x-app-usage", fmt.Sprintf(`{"call_count":%d,"total_cputime":%d,"total_time":%d}`, appCalls, appCalls*4/5, appCalls*4/5))
	h.Set("x-ad-account-usage", fmt.Sprintf(`{"acc_id_util_pct":%s,"reset_time_duration":%d,"ads_api_access_tier":"standard_access"}`,
		strconv.FormatFloat(max(accPct, f.OtherUsageAt), 'f', 2, 64), reset))
	if req.acct != nil {
		mgmt := ""
		if other > 0 {
			mgmt = fmt.Sprintf(`{"type":"ads_management","call_count":%d,"total_cputime":%d,"total_time":%d,"estimated_time_to_regain_access":0,"ads_api_access_tier":"standard_access"},`,
				other, other/5, other/5)
		}
		h.Set("x-business-use-case-usage", fmt.Sprintf(`{"%s":[%s{"type":"ads_insights","call_count":%d,"total_cputime":%d,"total_time":%d,"estimated_time_to_regain_access":%d,"ads_api_access_tier":"standard_access"}]}`,
			req.acct.ID, mgmt, pct, pct*4/5, pct*4/5, regain))
	} else {
		h.Set("x-business-use-case-usage", "{}")
	}
	h.Set("x-fb-ads-insights-throttle", fmt.Sprintf(`{"app_id_util_pct":%d,"acc_id_util_pct":%d,"ads_api_access_tier":"standard_access"}`, appPct, max(pct, int(f.InsightsUsageAt))))
}

// fail answers an error in Meta's envelope and counts it.
func (s *Simulator) fail(w http.ResponseWriter, req *request, e *apiError) {
	throttled, regain := e.throttled, e.regain
	s.mu.Lock()
	s.counters.Requests[req.kind]++
	s.counters.Errors++
	if throttled {
		s.counters.Throttled++
	}
	if e.status >= 500 {
		s.counters.ServerErrors++
	}
	if req.acct != nil {
		ac := s.acctCounters(req.acct.ID)
		ac.Errors++
		if throttled {
			ac.Throttled++
		}
		if e.status >= 500 {
			ac.ServerErrors++
		}
		s.counters.ByAccount[req.acct.ID] = ac
	}
	s.traceSeq++
	trace := hash(uint64(s.cfg.Seed), tagTrace, s.traceSeq)
	s.mu.Unlock()

	s.setUsage(w, req, throttled, regain)
	var o jsonObj
	o.str("message", e.msg)
	typ := e.typ
	if typ == "" {
		typ = "OAuthException"
	}
	o.str("type", typ)
	o.num("code", int64(e.code))
	if e.subcode != 0 {
		o.num("error_subcode", int64(e.subcode))
	}
	o.raw("is_transient", []byte(strconv.FormatBool(e.transient)))
	if e.userTitle != "" {
		o.str("error_user_title", e.userTitle)
		o.str("error_user_msg", e.userMsg)
	}
	tb := make([]byte, 16)
	for i := range tb {
		tb[i] = byte(trace >> (8 * (i % 8)))
		if i == 8 {
			trace = mix(trace)
		}
	}
	o.str("fbtrace_id", "A"+base64.RawURLEncoding.EncodeToString(tb)[:22])
	var env jsonObj
	env.raw("error", o.bytes())
	if e.code == 190 {
		h := w.Header()
		h.Set("WWW-Authenticate", `OAuth "Facebook Platform" "invalid_token" "`+e.msg+`"`)
	}
	writeJSON(w, e.status, env.bytes())
}

// ok answers a successful call and counts it.
func (s *Simulator) ok(w http.ResponseWriter, req *request, body []byte) {
	s.mu.Lock()
	s.counters.Requests[req.kind]++
	s.mu.Unlock()
	s.setUsage(w, req, false, 0)
	writeJSON(w, http.StatusOK, body)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// submit creates a report run.
func (s *Simulator) submit(w http.ResponseWriter, r *http.Request, req *request) {
	now := s.cfg.Now()
	sp, e := parseSpec(req.params, dayOf(now.In(req.acct.loc)))
	if e == nil {
		e = s.tooLarge(req.acct.ID, sp)
	}
	if e != nil {
		s.fail(w, req, e)
		return
	}
	s.mu.Lock()
	run := s.newRun(req.acct, sp, now)
	s.mu.Unlock()
	var o jsonObj
	if s.cfg.NumericReportRunID {
		o.raw("report_run_id", []byte(run.id))
	} else {
		o.str("report_run_id", run.id)
	}
	s.ok(w, req, o.bytes())
}

func (s *Simulator) tooLarge(id string, sp *reportSpec) *apiError {
	s.mu.Lock()
	n := s.faults[id].f.TooLargeOverWeeks
	s.mu.Unlock()
	if n > 0 && sp.weeks() > n {
		return &apiError{status: 400, code: 100, subcode: 1487534,
			msg:       "Please reduce the amount of data you're asking for, then retry your request",
			userTitle: "Please reduce the amount of data you're asking for, then retry your request",
			userMsg:   "Please reduce the amount of data you're asking for, then retry your request"}
	}
	return nil
}

// adAccount answers GET act_<id>: the requested fields of the ad account (Meta's AdAccount
// node: id, account_id, name, currency, timezone_name, timezone_offset_hours_utc,
// account_status); id alone when fields is absent.
func (s *Simulator) adAccount(w http.ResponseWriter, r *http.Request, req *request) {
	a := req.acct
	var o jsonObj
	for _, f := range strings.Split(req.params.Get("fields"), ",") {
		switch f = strings.TrimSpace(f); f {
		case "account_id":
			o.str(f, a.ID)
		case "name":
			o.str(f, a.Name)
		case "currency":
			o.str(f, a.Currency)
		case "timezone_name":
			o.str(f, a.TimeZone)
		case "timezone_offset_hours_utc":
			_, off := s.cfg.Now().In(a.loc).Zone()
			o.raw(f, []byte(strconv.FormatFloat(float64(off)/3600, 'f', -1, 64)))
		case "account_status":
			o.num(f, 1)
		case "", "id":
		default:
			s.fail(w, req, badParam("Tried accessing nonexisting field (%s) on node type (AdAccount)", f))
			return
		}
	}
	o.str("id", "act_"+a.ID)
	s.ok(w, req, o.bytes())
}

// poll answers the AdReportRun.
func (s *Simulator) poll(w http.ResponseWriter, r *http.Request, req *request) {
	e := s.lag(req, false, false)
	now := s.cfg.Now()
	s.mu.Lock()
	req.run.polls++
	if e == nil && req.run.seenDone.IsZero() {
		if st, _ := req.run.state(now); st == StatusCompleted || st == StatusFailed {
			req.run.seenDone = now
		}
	}
	s.mu.Unlock()
	if e != nil {
		s.fail(w, req, e)
		return
	}
	s.ok(w, req, req.run.json(now))
}

// readResults answers one page of a completed run's rows.
func (s *Simulator) readResults(w http.ResponseWriter, r *http.Request, req *request) {
	if e := s.lag(req, true, req.params.Get("after") != ""); e != nil {
		s.fail(w, req, e)
		return
	}
	st, _ := req.run.state(s.cfg.Now())
	s.mu.Lock()
	notReady := st == StatusCompleted && req.run.notReadyReads > 0
	if notReady {
		req.run.notReadyReads--
	}
	s.mu.Unlock()
	if st != StatusCompleted || notReady {
		s.fail(w, req, &apiError{status: 400, code: 2601, subcode: 1815107, transient: true,
			msg:       "(#2601) Error accessing adreport job.",
			userTitle: "Loading Async Ads Report Failed",
			userMsg:   "Sorry, the report cannot be loaded successfully. Please check if your job status is completed instead of failed or running before fetching the data."})
		return
	}
	if e := s.bigPage(req, req.run.spec); e != nil {
		s.fail(w, req, e)
		return
	}
	s.page(w, r, req, s.results(req.run), req.run.spec.limit, true)
}

// bigPage plays the BigPage fault on a result page of the report sp: the answer Meta gives a
// page it will not serve at the size asked, or nil.
func (s *Simulator) bigPage(req *request, sp *reportSpec) *apiError {
	s.mu.Lock()
	f := s.faults[req.acct.ID].f
	s.mu.Unlock()
	if f.BigPageLimit <= 0 || f.BigPageOverWeeks > 0 && sp.weeks() <= f.BigPageOverWeeks {
		return nil
	}
	limit := 25
	if n, err := strconv.Atoi(req.params.Get("limit")); err == nil && n > 0 {
		limit = n
	}
	if limit <= f.BigPageLimit {
		return nil
	}
	switch f.BigPageError {
	case "unknown":
		return &apiError{status: 500, code: 1, subcode: 99, msg: "An unknown error occurred"}
	case "1487534":
		return &apiError{status: 400, code: 100, subcode: 1487534,
			msg: "Please reduce the amount of data you're asking for, then retry your request"}
	}
	return &apiError{status: 500, code: 1, msg: "Please reduce the amount of data you're asking for, then retry your request"}
}

// deprecated reports whether the request's API version is older than Config.OldestVersion.
func (s *Simulator) deprecated(version string) bool {
	if s.cfg.OldestVersion == "" || !versionRE.MatchString(version) {
		return false
	}
	return versionLess(version, s.cfg.OldestVersion)
}

// versionLess compares "vM.N" versions by number.
func versionLess(a, b string) bool {
	pa, pb := strings.SplitN(a[1:], ".", 2), strings.SplitN(b[1:], ".", 2)
	ma, _ := strconv.Atoi(pa[0])
	mb, _ := strconv.Atoi(pb[0])
	if ma != mb {
		return ma < mb
	}
	na, _ := strconv.Atoi(pa[1])
	nb, _ := strconv.Atoi(pb[1])
	return na < nb
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// sync answers the synchronous variant: the rows directly, paged.
func (s *Simulator) sync(w http.ResponseWriter, r *http.Request, req *request) {
	s.mu.Lock()
	f := s.faults[req.acct.ID].f
	s.mu.Unlock()
	if !wait(r, f.SlowSync) {
		return
	}
	sp, e := parseSpec(req.params, s.today(req.acct))
	if e == nil {
		e = s.tooLarge(req.acct.ID, sp)
	}
	if e == nil && f.SyncTooLargeOverWeeks > 0 && sp.weeks() > f.SyncTooLargeOverWeeks {
		e = &apiError{status: 500, code: 1,
			msg: "Please reduce the amount of data you're asking for, then retry your request"}
	}
	switch {
	case e != nil:
	case f.SyncErrors == 1:
		e = &apiError{status: 500, code: 1, subcode: 99, msg: "An unknown error occurred"}
	case f.SyncErrors == 2:
		e = &apiError{status: 400, code: 2, subcode: 1504044, msg: "Unknown Error Occurred",
			userTitle: "Unknown Error Occurred", userMsg: "Please try again later."}
	case req.params.Get("after") != "":
		e = s.bigPage(req, sp)
	}
	var rows [][]byte
	if e == nil {
		rows = s.syncRows(req.acct, sp)
		if s.cfg.SyncMaxRows > 0 && len(rows) > s.cfg.SyncMaxRows {
			e = &apiError{status: 500, code: 1,
				msg: "Please reduce the amount of data you're asking for, then retry your request"}
		}
	}
	if e != nil {
		s.fail(w, req, e)
		return
	}
	if !wait(r, s.syncCost(req, len(rows))) {
		return
	}
	s.page(w, r, req, rows, 0, true)
}

// syncCost is what a synchronous answer costs beyond its latency when the whole answer holds
// total rows (Config.SyncRowCost): all of them on its first page, a later page its own rows.
func (s *Simulator) syncCost(req *request, total int) time.Duration {
	if s.cfg.SyncRowCost <= 0 {
		return 0
	}
	n := total
	if c := req.params.Get("after"); c != "" {
		start, _ := decodeCursor(c)
		limit, err := strconv.Atoi(req.params.Get("limit"))
		if err != nil || limit <= 0 {
			limit = 25
		}
		n = max(0, min(total-start, min(limit, s.cfg.MaxPageSize)))
	}
	return time.Duration(n) * s.cfg.SyncRowCost
}

// reportKey names the rows of a report: the account, its today and revision, and the spec.
func (s *Simulator) reportKey(a *account, sp *reportSpec) string {
	return fmt.Sprintf("%s|%d|%d|%s|%d|%d|%d|%d|%d|%v", a.ID, s.today(a), s.revision(a.ID),
		strings.Join(sp.fields, ","), sp.level, sp.bd, sp.since, sp.until, sp.incr, sp.statuses)
}

// Warm computes the rows of the report the Insights parameters ask of the account (id with or
// without act_) now, and keeps them, so that a report run or a synchronous read of the same
// report later serves them without computing them. Benchmarks warm the reports they will ask
// for before their timer starts: Meta computes its reports on its own machines, and here the
// simulator would share the CPU with the client it measures.
func (s *Simulator) Warm(accountID string, params url.Values) error {
	a := s.accounts[trimAct(accountID)]
	if a == nil {
		return fmt.Errorf("warm: unknown account %s", accountID)
	}
	sp, e := parseSpec(params, s.today(a))
	if e != nil {
		return fmt.Errorf("warm: %w", e)
	}
	key := s.reportKey(a, sp)
	rows := s.buildRows(a, sp)
	s.mu.Lock()
	s.warm[key] = rows
	s.mu.Unlock()
	return nil
}

// warmRows returns the rows Warm kept for the report, if any.
func (s *Simulator) warmRows(a *account, sp *reportSpec) ([][]byte, bool) {
	key := s.reportKey(a, sp)
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, ok := s.warm[key]
	return rows, ok
}

// syncRows computes the rows of a synchronous read, cached so that paging through a large
// answer does not recompute it for every page.
func (s *Simulator) syncRows(a *account, sp *reportSpec) [][]byte {
	if rows, ok := s.warmRows(a, sp); ok {
		return rows
	}
	key := s.reportKey(a, sp)
	s.mu.Lock()
	rows, ok := s.syncCache[key]
	s.mu.Unlock()
	if ok {
		return rows
	}
	rows = s.buildRows(a, sp)
	s.mu.Lock()
	if len(s.syncCache) >= 32 {
		clear(s.syncCache)
	}
	s.syncCache[key] = rows
	s.mu.Unlock()
	return rows
}

// page answers rows[after:after+limit] with Meta's paging object.
func (s *Simulator) page(w http.ResponseWriter, r *http.Request, req *request, rows [][]byte, defLimit int, mayReset bool) {
	limit := defLimit
	if ls := req.params.Get("limit"); ls != "" {
		n, err := strconv.Atoi(ls)
		if err != nil || n < 0 {
			s.fail(w, req, badParam("limit must be a non-negative integer"))
			return
		}
		limit = n
	}
	if limit <= 0 {
		limit = 25
	}
	limit = min(limit, s.cfg.MaxPageSize)
	start := 0
	if c := req.params.Get("after"); c != "" {
		n, ok := decodeCursor(c)
		if !ok || n > len(rows) {
			s.fail(w, req, badParam("Invalid cursor: %s", c))
			return
		}
		start = n
	}
	end := min(start+limit, len(rows))

	body := []byte(`{"data":[`)
	for i, row := range rows[start:end] {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, row...)
	}
	body = append(body, ']')
	endless := 0
	if end == len(rows) {
		endless = s.endlessDue(req.acct.ID)
	}
	if end > start || endless != 0 {
		var cur jsonObj
		cur.str("before", encodeCursor(start))
		cur.str("after", encodeCursor(end))
		var pg jsonObj
		pg.raw("cursors", cur.bytes())
		switch {
		case end < len(rows):
			pg.str("next", nextURL(r, limit, encodeCursor(end)))
		case endless == 1: // an empty page with a next link, and another (php-business-sdk#333)
			_, k := decodeCursorSeq(req.params.Get("after"))
			pg.str("next", nextURL(r, limit, encodeCursorSeq(end, k+1)))
		case endless == 2: // the page's own cursor again
			pg.str("next", nextURL(r, limit, encodeCursor(start)))
		}
		body = append(body, `,"paging":`...)
		body = append(body, pg.bytes()...)
	}
	body = append(body, '}')

	if mayReset && s.resetDue(req.acct.ID) {
		s.cut(w, req, body)
		return
	}
	s.mu.Lock()
	ac := s.acctCounters(req.acct.ID)
	ac.Pages++
	ac.Rows += int64(end - start)
	s.counters.ByAccount[req.acct.ID] = ac
	s.mu.Unlock()
	s.ok(w, req, body)
}

func (s *Simulator) resetDue(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := s.faults[id]
	fs.pages++
	return fs.f.ResetEvery > 0 && fs.pages%fs.f.ResetEvery == 0
}

// cut writes the head and half the body of a page, then closes the connection.
func (s *Simulator) cut(w http.ResponseWriter, req *request, body []byte) {
	s.mu.Lock()
	s.counters.Requests[req.kind]++
	s.counters.Resets++
	ac := s.acctCounters(req.acct.ID)
	ac.Resets++
	s.counters.ByAccount[req.acct.ID] = ac
	s.mu.Unlock()
	s.setUsage(w, req, false, 0)
	half := body[:len(body)/2]
	hj, ok := w.(http.Hijacker)
	if !ok {
		writeHead(w, len(body))
		_, _ = w.Write(half)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\n")
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_ = w.Header().Write(buf)
	fmt.Fprintf(buf, "\r\n")
	_, _ = buf.Write(half)
	_ = buf.Flush()
}

func writeHead(w http.ResponseWriter, n int) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(n))
	w.WriteHeader(http.StatusOK)
}

func encodeCursor(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("sim:" + strconv.Itoa(n)))
}

// encodeCursorSeq is the k-th cursor past the last row n (EndlessPaging 1): each new.
func encodeCursorSeq(n, k int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("sim:" + strconv.Itoa(n) + ":" + strconv.Itoa(k)))
}

func decodeCursor(c string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), "sim:") {
		return 0, false
	}
	s, _, _ := strings.Cut(string(b[4:]), ":")
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// decodeCursorSeq returns a cursor's row and its sequence number (0 for a plain cursor).
func decodeCursorSeq(c string) (int, int) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), "sim:") {
		return 0, 0
	}
	s, seq, _ := strings.Cut(string(b[4:]), ":")
	n, _ := strconv.Atoi(s)
	k, _ := strconv.Atoi(seq)
	return n, k
}

// endlessDue returns the account's EndlessPaging mode while its 50 extra pages last (0 after).
func (s *Simulator) endlessDue(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := s.faults[id]
	if fs.f.EndlessPaging == 0 || fs.endless >= 50 {
		return 0
	}
	fs.endless++
	return fs.f.EndlessPaging
}

// nextURL is the absolute URL of the next page: the same path and query string (so an
// access_token that came in the query stays there, as with Meta) with limit and after set.
func nextURL(r *http.Request, limit int, after string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	q := r.URL.Query()
	q.Del("before")
	q.Set("limit", strconv.Itoa(limit))
	q.Set("after", after)
	u := url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
	return u.String()
}
