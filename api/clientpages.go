package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/service"
)

// The clients' health (service.ClientsHealth):
//
//	GET /v1/clients        {"clients": [{"id", "name", "ad_account_id", "active", "token", "shares_account_with", "health": {…}}]}, unhealthy first
//	GET /v1/clients/{id}   the client's health with its horizon's weeks (?weeks=N, 1-160; default the client's newest run's, else 54) and newest runs; 404
//	GET /clients, GET /clients/{id}   the same as pages
func (s *Server) clientHealthRoutes() {
	s.mux.Handle("GET /v1/clients/{id}", s.auth(http.HandlerFunc(s.getClient)))
	s.mux.Handle("GET /clients/{id}", s.auth(http.HandlerFunc(s.clientPage)))
	s.mux.Handle("GET /clients", s.auth(http.HandlerFunc(s.clientsPage)))
}

// clientListed is a client of GET /v1/clients: its administration and its health.
type clientListed struct {
	pipeline.ClientInfo
	Health service.ClientHealth `json:"health"`
}

func (s *Server) clientsWithHealth(r *http.Request) ([]clientListed, error) {
	infos, err := s.svc.ListClients(r.Context())
	if err != nil {
		return nil, err
	}
	health, err := s.svc.ClientsHealth(r.Context())
	if err != nil {
		return nil, err
	}
	byID := map[string]pipeline.ClientInfo{}
	for _, c := range infos {
		byID[c.ID] = c
	}
	out := make([]clientListed, 0, len(health))
	for _, h := range health { // unhealthy first
		out = append(out, clientListed{ClientInfo: byID[h.ClientID], Health: h})
	}
	return out, nil
}

func (s *Server) listClients(w http.ResponseWriter, r *http.Request) {
	list, err := s.clientsWithHealth(r)
	if err != nil {
		s.serverError(w, "read the clients", err, false)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"clients": list})
}

// weeksParam reads ?weeks= (1 to pipeline.MaxWeeks; default the client's newest run's, else
// pipeline.DefaultWeeks); false when it answered the error.
func weeksParam(w http.ResponseWriter, r *http.Request) (int, bool) {
	v := r.URL.Query().Get("weeks")
	if v == "" {
		return 0, true // the client's newest run's
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > pipeline.MaxWeeks {
		writeJSON(w, http.StatusBadRequest, apiError{Error: fmt.Sprintf("weeks: want a number in 1..%d", pipeline.MaxWeeks), Field: "weeks"})
		return 0, false
	}
	return n, true
}

func (s *Server) getClient(w http.ResponseWriter, r *http.Request) {
	weeks, ok := weeksParam(w, r)
	if !ok {
		return
	}
	c, err := s.svc.ClientHealth(r.Context(), r.PathValue("id"), weeks)
	if errors.Is(err, service.ErrNoClient) {
		writeJSON(w, http.StatusNotFound, apiError{Error: "no client " + r.PathValue("id"), Field: "id"})
		return
	}
	if err != nil {
		s.serverError(w, "read the client", err, false)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) clientsPage(w http.ResponseWriter, r *http.Request) {
	list, err := s.clientsWithHealth(r)
	if err != nil {
		s.serverError(w, "read the clients", err, true)
		return
	}
	s.render(w, "clients.html", map[string]any{"Clients": list, "Now": time.Now()})
}

func (s *Server) clientPage(w http.ResponseWriter, r *http.Request) {
	c, err := s.svc.ClientHealth(r.Context(), r.PathValue("id"), 0)
	if !s.pageFound(w, r, err, service.ErrNoClient, "client") {
		return
	}
	s.render(w, "client.html", map[string]any{"C": c, "Charts": weekCharts(c.Weeks), "Now": time.Now()})
}

// chart is one series of the client's weeks drawn as an SVG polyline, server-side.
type chart struct {
	Title  string
	Max    string // the top of the scale, as printed
	Points string // the polyline's points, in the viewBox 0 0 W H
	Dots   []dot
	W, H   int
}

type dot struct {
	X, Y  float64
	Label string
}

// weekCharts draws spend, impressions and reach by week (a week not loaded is 0, left out of
// the line).
func weekCharts(weeks []service.Week) []chart {
	series := []struct {
		title string
		v     func(service.Week) float64
		f     func(float64) string
	}{
		{"Spend", func(w service.Week) float64 { return w.Spend }, func(v float64) string { return fmt.Sprintf("%.2f", v) }},
		{"Impressions", func(w service.Week) float64 { return float64(w.Impressions) }, func(v float64) string { return strconv.FormatInt(int64(v), 10) }},
		{"Reach", func(w service.Week) float64 { return float64(w.Reach) }, func(v float64) string { return strconv.FormatInt(int64(v), 10) }},
	}
	const W, H, pad = 640, 120, 6
	var out []chart
	for _, s := range series {
		top := 0.0
		for _, w := range weeks {
			top = max(top, s.v(w))
		}
		c := chart{Title: s.title, Max: s.f(top), W: W, H: H}
		var pts []string
		for i, w := range weeks {
			if w.State != service.WeekFinal && w.State != service.WeekNotFinal {
				continue
			}
			x := pad + float64(i)*float64(W-2*pad)/float64(max(1, len(weeks)-1))
			y := float64(H - pad)
			if top > 0 {
				y -= s.v(w) / top * float64(H-2*pad)
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
			c.Dots = append(c.Dots, dot{X: x, Y: y, Label: w.Monday + ": " + s.f(s.v(w))})
		}
		c.Points = strings.Join(pts, " ")
		out = append(out, c)
	}
	return out
}

// weekTitle is a week's tooltip in the strip.
func weekTitle(w service.Week) string {
	words := map[string]string{service.WeekFinal: "loaded, final", service.WeekNotFinal: "loaded, not final yet",
		service.WeekMissing: "missing: no load covered it", service.WeekNoDelivery: "no delivery"}
	return "week of " + w.Monday + ": " + words[w.State]
}
