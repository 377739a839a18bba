package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/service"
)

// runPageData is what the run's page shows.
type runPageData struct {
	Run     *service.RunView
	Sum     summary
	Refresh int // seconds; 0 once the run is over
	Now     time.Time
}

// summary is a run's figures at a glance: its clients by outcome, report runs, what its loads
// did to the rows (inserted, updated, unchanged, … summed over the clients), and the share of
// its work done (each client's report runs weighed by Meta's percent, a client over counting
// whole).
type summary struct {
	Clients, Done, Failed, Interrupted, Active int
	Reports, ReportsTotal, Percent             int
	Rows                                       pipeline.RowCounts
}

func summarize(r service.RunView) summary {
	var s summary
	s.Clients = len(r.Clients)
	sum := 0
	for _, c := range r.Clients {
		s.Reports += c.ReportsDone
		s.ReportsTotal += c.ReportsTotal
		s.Rows.Inserted += c.Rows.Inserted
		s.Rows.Updated += c.Rows.Updated
		s.Rows.Unchanged += c.Rows.Unchanged
		s.Rows.Confirmed += c.Rows.Confirmed
		s.Rows.Kept += c.Rows.Kept
		s.Rows.Deleted += c.Rows.Deleted
		switch c.State {
		case service.StateDone:
			s.Done++
		case service.StateFailed:
			s.Failed++
		case service.StateInterrupted:
			s.Interrupted++
		}
		switch {
		case c.State.Over():
			sum += 100
		case c.State != service.StateQueued:
			s.Active++
			sum += c.Percent
		}
	}
	if s.Clients > 0 {
		s.Percent = sum / s.Clients
	}
	return s
}

func (s *Server) runPage(w http.ResponseWriter, r *http.Request) {
	run, err := s.svc.Run(r.Context(), r.PathValue("id"))
	if !s.pageFound(w, r, err, service.ErrNoRun, "run") {
		return
	}
	d := runPageData{Run: run, Sum: summarize(*run), Now: time.Now()}
	if run.FinishedAt == nil {
		d.Refresh = max(1, int(s.opts.Refresh.Seconds()))
	}
	s.render(w, "run.html", d)
}

func (s *Server) runsPage(w http.ResponseWriter, r *http.Request) {
	runs, err := s.svc.Runs(r.Context(), 50)
	if err != nil {
		s.serverError(w, "read the runs", err, true)
		return
	}
	s.render(w, "runs.html", map[string]any{"Runs": runs, "Refresh": max(1, int(s.opts.Refresh.Seconds())), "Now": time.Now()})
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, "login.html", map[string]any{"Next": r.URL.Query().Get("next"), "Failed": false,
		"SignedOut": r.URL.Query().Has("signed_out")})
}

// login checks the token of the form and, when right, sets an HttpOnly, SameSite=Strict
// cookie for the pages and River's UI that holds a value derived from the token (session),
// never the token itself.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	_ = r.ParseForm()
	next := r.PostFormValue("next")
	if !localPath(next) {
		next = "/runs"
	}
	probe := r.Clone(r.Context())
	probe.Header.Set("Authorization", "Bearer "+r.PostFormValue("token"))
	if s.opts.Token != "" && !s.authorized(probe) {
		w.WriteHeader(http.StatusUnauthorized)
		s.render(w, "login.html", map[string]any{"Next": next, "Failed": true})
		return
	}
	// Secure whenever the browser came over HTTPS, to this server or to the proxy in front of it.
	secure := r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.session(), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: secure})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.pages.ExecuteTemplate(w, name, data); err != nil {
		s.log.Error("render page", "page", name, "err", err)
	}
}

// pageFound answers a page whose read failed: 404 when the service does not know the path's
// id (missing), else 500. It says whether the page can be drawn.
func (s *Server) pageFound(w http.ResponseWriter, r *http.Request, err, missing error, what string) bool {
	switch {
	case errors.Is(err, missing):
		http.Error(w, "no "+what+" "+r.PathValue("id"), http.StatusNotFound)
		return false
	case err != nil:
		s.serverError(w, "read the "+what, err, true)
		return false
	}
	return true
}
