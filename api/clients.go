package api

import (
	"errors"
	"net/http"

	"github.com/metapipe/metapipe/pipeline"
)

// The clients in the API, as `metapipe clients` does them:
//
//	GET  /v1/clients                   {"clients": [{"id", "name", "ad_account_id", "active", "token", "shares_account_with"}]}
//	POST /v1/clients                   {"name", "ad_account_id", "token"} → 201 the client; 409 naming the client on that ad account
//	PUT  /v1/clients/{id}/token        {"token": "…"} or {"default": true} → 200 the client
//	POST /v1/clients/{id}/deactivate   → 200 the client
//
// "token" in an answer says whose token the client runs with, never a token. The writes refuse
// a request another site made a browser send (403).
func (s *Server) clientRoutes() {
	s.mux.Handle("GET /v1/clients", s.auth(http.HandlerFunc(s.listClients)))
	s.mux.Handle("POST /v1/clients", s.auth(sameSite(http.HandlerFunc(s.addClient))))
	s.mux.Handle("PUT /v1/clients/{id}/token", s.auth(sameSite(http.HandlerFunc(s.setClientToken))))
	s.mux.Handle("POST /v1/clients/{id}/deactivate", s.auth(sameSite(http.HandlerFunc(s.deactivateClient))))
}

// sameSite refuses cross-site requests (crossOrigin) with a JSON 403.
func sameSite(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := crossOrigin.Check(r); err != nil {
			writeJSON(w, http.StatusForbidden, apiError{Error: "refused: " + err.Error()})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clientError answers an error of the clients' administration.
func (s *Server) clientError(w http.ResponseWriter, what string, err error) {
	var ae *pipeline.ClientAdminError
	switch {
	case errors.As(err, &ae) && ae.NotFound:
		writeJSON(w, http.StatusNotFound, apiError{Error: ae.Msg, Field: ae.Field})
	case errors.As(err, &ae) && ae.Conflict:
		writeJSON(w, http.StatusConflict, map[string]string{"error": ae.Msg, "field": ae.Field, "client": ae.Other})
	case errors.As(err, &ae):
		writeJSON(w, http.StatusBadRequest, apiError{Error: ae.Msg, Field: ae.Field})
	default:
		s.serverError(w, what, err, false)
	}
}

// decodeBody decodes one JSON object of at most 64 KiB with known fields only (decodeObject);
// false when it answered the error.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if e := decodeObject(http.MaxBytesReader(w, r.Body, 64<<10), v); e != nil {
		writeJSON(w, http.StatusBadRequest, *e)
		return false
	}
	return true
}

func (s *Server) addClient(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name      string `json:"name"`
		AdAccount string `json:"ad_account_id"`
		Token     string `json:"token"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	c, err := s.svc.AddClient(r.Context(), body.Name, body.AdAccount, body.Token)
	if err != nil {
		s.clientError(w, "add the client", err)
		return
	}
	w.Header().Set("Location", "/v1/clients/"+c.ID)
	writeJSON(w, http.StatusCreated, c)
}

func (s *Server) setClientToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Token   string `json:"token"`
		Default bool   `json:"default"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if (body.Token == "") == !body.Default {
		writeJSON(w, http.StatusBadRequest, apiError{Error: `want {"token": "…"} (the client's own) or {"default": true} (META_ACCESS_TOKEN)`, Field: "token"})
		return
	}
	c, err := s.svc.SetClientToken(r.Context(), r.PathValue("id"), body.Token)
	if err != nil {
		s.clientError(w, "set the token", err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) deactivateClient(w http.ResponseWriter, r *http.Request) {
	c, err := s.svc.DeactivateClient(r.Context(), r.PathValue("id"))
	if err != nil {
		s.clientError(w, "deactivate the client", err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}
