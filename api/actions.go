package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/metapipe/metapipe/service"
)

// The clients' actions, the same endpoints for the pages (a form) and the API (JSON):
//
//	POST /v1/clients/{id}/run        {"confirm": true}                                    run the client now
//	POST /v1/clients/{id}/refetch    {"from": "YYYY-MM-DD", "to": "YYYY-MM-DD", "confirm": true}   re-fetch those weeks, replacing the stored figures
//	POST /v1/clients/{id}/backfill   {"weeks": 54, "confirm": true}                       backfill a new client
//
// Without "confirm": true the API answers 400 with what the action would do ("would": the run,
// and the stored weeks a re-fetch replaces), and the page asks the same; confirmed: 202
// {"run_id", "status_url", "action"} (a page: 303 to the run's page). Cross-site requests are
// refused (403).
func (s *Server) actionRoutes() {
	for _, kind := range []string{"run", "refetch", "backfill"} {
		s.mux.Handle("POST /v1/clients/{id}/"+kind, s.auth(sameSite(s.clientAction(kind))))
	}
}

type actionBody struct {
	Confirm bool   `json:"confirm"`
	From    string `json:"from"`
	To      string `json:"to"`
	Weeks   int    `json:"weeks"`
}

// actionReply answers an action's request: a form (the pages) in text, the API in JSON.
type actionReply struct {
	w    http.ResponseWriter
	form bool
}

func (ar actionReply) fail(status int, msg, field string) {
	if ar.form {
		http.Error(ar.w, msg, status)
		return
	}
	writeJSON(ar.w, status, apiError{Error: msg, Field: field})
}

func (s *Server) clientAction(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ar := actionReply{w, strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")}
		body, from, to, ok := readAction(w, r, ar)
		if !ok {
			return
		}
		a, err := s.svc.PlanAction(r.Context(), r.PathValue("id"), kind, from, to, body.Weeks)
		var fe *service.FieldError
		switch {
		case errors.Is(err, service.ErrNoClient):
			ar.fail(http.StatusNotFound, "no client "+r.PathValue("id"), "id")
			return
		case errors.As(err, &fe):
			ar.fail(http.StatusBadRequest, fe.Error(), fe.Field)
			return
		case err != nil:
			s.serverError(w, "plan the action", err, ar.form)
			return
		}
		if !body.Confirm {
			if ar.form {
				s.render(w, "confirm.html", a)
				return
			}
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": `confirm: send it again with "confirm": true to do it`,
				"field": "confirm", "would": a})
			return
		}
		s.doAction(w, r, ar, a)
	}
}

// readAction reads an action's body (a form or JSON) and its dates; a bad one is answered
// (400), and ok is false.
func readAction(w http.ResponseWriter, r *http.Request, ar actionReply) (body actionBody, from, to time.Time, ok bool) {
	if ar.form {
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		_ = r.ParseForm()
		body.Confirm = r.PostFormValue("confirm") == "yes"
		body.From, body.To = r.PostFormValue("from"), r.PostFormValue("to")
		if v := r.PostFormValue("weeks"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				ar.fail(http.StatusBadRequest, "weeks: want a number", "weeks")
				return body, from, to, false
			}
			body.Weeks = n
		}
	} else if !decodeBody(w, r, &body) {
		return body, from, to, false
	}
	for _, f := range []struct {
		name, v string
		t       *time.Time
	}{{"from", body.From, &from}, {"to", body.To, &to}} {
		if f.v == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, f.v)
		if err != nil {
			ar.fail(http.StatusBadRequest, fmt.Sprintf("%s %q: want YYYY-MM-DD", f.name, f.v), f.name)
			return body, from, to, false
		}
		*f.t = t
	}
	return body, from, to, true
}

// doAction queues the run of a confirmed action and answers: 202 with the run (a page: 303
// to the run's page), 409 with the run already queued or running (a page: 303 to it).
func (s *Server) doAction(w http.ResponseWriter, r *http.Request, ar actionReply, a *service.Action) {
	source := "api"
	if ar.form {
		source = "page"
	}
	id, err := s.svc.Do(r.Context(), a, source)
	var fe *service.FieldError
	var ce *service.ConflictError
	switch {
	case errors.As(err, &fe):
		ar.fail(http.StatusBadRequest, fe.Error(), fe.Field)
	case errors.As(err, &ce):
		if ar.form {
			http.Redirect(w, r, "/runs/"+ce.RunID, http.StatusSeeOther)
			return
		}
		writeJSON(w, http.StatusConflict, apiError{Error: ce.Error(), RunID: ce.RunID})
	case err != nil:
		s.serverError(w, "queue the run", err, ar.form)
	case ar.form:
		http.Redirect(w, r, "/runs/"+id, http.StatusSeeOther)
	default:
		w.Header().Set("Location", "/v1/runs/"+id)
		writeJSON(w, http.StatusAccepted, map[string]any{"run_id": id, "status_url": "/v1/runs/" + id, "action": a})
	}
}
