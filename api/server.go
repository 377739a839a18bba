package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"riverqueue.com/riverui"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/metapipe/metapipe/pipeline"
	"github.com/metapipe/metapipe/service"
)

// Options configure the server.
type Options struct {
	// Token is the API token (METAPIPE_API_TOKEN); "" lets every request in, which the
	// command allows on a loopback address only.
	Token  string
	Logger *slog.Logger
	// Refresh is how often a run's page reloads itself while the run goes on (default 2s).
	Refresh time.Duration
}

// Server is the HTTP handler of metapipe serve.
type Server struct {
	svc     *service.Service
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	riverui *riverui.Handler
	pages   *template.Template
}

//go:embed templates/*.html
var templateFiles embed.FS

// cookieName holds the token for a browser.
const cookieName = "metapipe_token"

// New builds the server over a service (whose River client River's UI reads).
func New(svc *service.Service, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Refresh == 0 {
		opts.Refresh = 2 * time.Second
	}
	pages, err := template.New("").Funcs(template.FuncMap{
		"since":     func(t time.Time) string { return time.Since(t).Round(time.Second).String() },
		"between":   func(a time.Time, b *time.Time) string { return b.Sub(a).Round(time.Second).String() },
		"at":        func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"clock":     func(t time.Time) string { return t.UTC().Format("15:04:05") },
		"summary":   summarize,
		"weekTitle": weekTitle,
		// signOut says whether the pages show the sign-out button: only with a token to sign in with.
		"signOut": func() bool { return opts.Token != "" },
	}).ParseFS(templateFiles, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("api: templates: %w", err)
	}
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(svc.River(), nil),
		Logger:    opts.Logger,
		Prefix:    "/riverui",
	})
	if err != nil {
		return nil, fmt.Errorf("api: river UI: %w", err)
	}
	s := &Server{svc: svc, opts: opts, log: opts.Logger, mux: http.NewServeMux(), riverui: ui, pages: pages}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.Handle("POST /v1/runs", s.auth(http.HandlerFunc(s.postRun)))
	s.mux.Handle("GET /v1/runs/{id}", s.auth(http.HandlerFunc(s.getRun)))
	s.mux.Handle("GET /v1/runs", s.auth(http.HandlerFunc(s.listRuns)))
	s.mux.Handle("GET /runs/{id}", s.auth(http.HandlerFunc(s.runPage)))
	s.mux.Handle("GET /runs", s.auth(http.HandlerFunc(s.runsPage)))
	s.mux.Handle("GET /{$}", http.RedirectHandler("/runs", http.StatusSeeOther))
	s.mux.HandleFunc("GET /login", s.loginPage)
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("POST /logout", s.logout)
	s.mux.Handle("/riverui/", s.auth(ui))
	s.mux.Handle("GET /metrics", s.auth(svc.Metrics().Handler()))
	s.clientRoutes()
	s.clientHealthRoutes()
	s.actionRoutes()
	return s, nil
}

// Start starts River's UI's background work; it stops with ctx.
func (s *Server) Start(ctx context.Context) error { return s.riverui.Start(ctx) }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// auth lets a request in with the token: a bearer header, or the cookie set by /login. Pages
// without it go to the login form; the API answers 401.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Token == "" || s.authorized(r) {
			next.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/v1/") || strings.HasPrefix(r.URL.Path, "/riverui/api/") || r.URL.Path == "/metrics" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metapipe"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong API token (Authorization: Bearer <METAPIPE_API_TOKEN>)"})
			return
		}
		http.Redirect(w, r, "/login?next="+urlPath(r), http.StatusSeeOther)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	given := ""
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		given = strings.TrimSpace(h[7:])
		return given != "" && subtle.ConstantTimeCompare([]byte(given), []byte(s.opts.Token)) == 1
	}
	if c, err := r.Cookie(cookieName); err == nil && c.Value != "" {
		return subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.session())) == 1
	}
	return false
}

// session is the login cookie's value: HMAC-SHA256 of a fixed label keyed by the API token, in
// hex. A cookie that leaks (a proxy's log, a browser profile) is not the token, cannot be used
// as a bearer token, and stops working when the token changes.
func (s *Server) session() string {
	m := hmac.New(sha256.New, []byte(s.opts.Token))
	m.Write([]byte("metapipe login session v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// urlPath is where to come back after the login: a path of this server only.
func urlPath(r *http.Request) string {
	if p := r.URL.Path; localPath(p) {
		return p
	}
	return "/runs"
}

// localPath says whether p is a path on this server and nothing a browser could read as
// another host: it starts with one "/", and holds no backslash and no control character
// (browsers read "/\evil.example" and "/<TAB>/evil.example" as "//evil.example").
func localPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsRune(p, '\\') {
		return false
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.svc.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// runRequest is POST /v1/runs's body; every field is optional.
type runRequest struct {
	Clients []string `json:"clients"`
	AsOf    *string  `json:"as_of"` // nil: each ad account's today; "" is refused
	Weeks   *int     `json:"weeks"`
	Full    bool     `json:"full"`
}

// apiError is the body of every error answer: what is wrong, the field at fault, the run in
// the way (409).
type apiError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
	RunID string `json:"run_id,omitempty"`
}

func (s *Server) postRun(w http.ResponseWriter, r *http.Request) {
	var body runRequest
	if ae := decodeObject(http.MaxBytesReader(w, r.Body, 1<<20), &body); ae != nil {
		writeJSON(w, http.StatusBadRequest, *ae)
		return
	}
	if body.Clients != nil && len(body.Clients) == 0 {
		// An empty list is more likely a caller's bug than a wish to run the whole fleet.
		writeJSON(w, http.StatusBadRequest, apiError{Error: "clients is empty: leave it out to run every active client", Field: "clients"})
		return
	}
	req := service.RunRequest{Clients: body.Clients, Full: body.Full, Source: "api"}
	if body.AsOf != nil {
		t, err := time.Parse(time.DateOnly, *body.AsOf)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{Error: fmt.Sprintf("as_of %q: want YYYY-MM-DD (or leave it out: each ad account's today)", *body.AsOf), Field: "as_of"})
			return
		}
		if fe := service.FieldErrorOf(pipeline.CheckAsOfDate(t, time.Now())); fe != nil {
			writeJSON(w, http.StatusBadRequest, apiError{Error: fe.Error(), Field: fe.Field})
			return
		}
		req.AsOf = t
	}
	if body.Weeks != nil {
		if *body.Weeks == 0 {
			writeJSON(w, http.StatusBadRequest, apiError{Error: fmt.Sprintf("weeks: 0 is outside 1..%d", pipeline.MaxWeeks), Field: "weeks"})
			return
		}
		req.Weeks = *body.Weeks
	}
	id, err := s.svc.Enqueue(r.Context(), req)
	var fe *service.FieldError
	var ce *service.ConflictError
	switch {
	case errors.As(err, &fe):
		writeJSON(w, http.StatusBadRequest, apiError{Error: fe.Error(), Field: fe.Field})
	case errors.As(err, &ce):
		writeJSON(w, http.StatusConflict, apiError{Error: ce.Error(), RunID: ce.RunID})
	case err != nil:
		s.serverError(w, "queue a run", err, false)
	default:
		w.Header().Set("Location", "/v1/runs/"+id)
		writeJSON(w, http.StatusAccepted, map[string]string{"run_id": id, "status_url": "/v1/runs/" + id})
	}
}

// serverError answers a failure of the server's own (the database, mostly) without its
// details, which name hosts, users and tables: 503 when the database does not answer (the
// caller may try again), 500 otherwise; the details go to the log. page answers in text.
func (s *Server) serverError(w http.ResponseWriter, what string, err error, page bool) {
	s.log.Error("could not "+what, "err", err)
	status, msg := http.StatusInternalServerError, "could not "+what+": internal error (the server's log says why)"
	if databaseDown(err) {
		status, msg = http.StatusServiceUnavailable, "could not "+what+": the database does not answer; try again"
		w.Header().Set("Retry-After", "5")
	}
	if page {
		http.Error(w, msg, status)
		return
	}
	writeJSON(w, status, apiError{Error: msg})
}

// databaseDown says whether err is the database not answering: no connection, a timeout, a
// connection lost, or the server shutting down or not accepting connections (class 57,
// operator intervention).
func databaseDown(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	var pe *pgconn.PgError
	return errors.As(err, &ce) || pgconn.Timeout(err) || errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &pe) && pgerrcode.IsOperatorIntervention(pe.Code)
}

// decodeObject decodes one JSON object (or nothing) into dst, a pointer to a struct, refusing a
// key that is none of its fields' JSON names (exactly, case included), or an answer naming the
// field. encoding/json has no typed error for DisallowUnknownFields (only the text "json:
// unknown field"), so the keys are checked here, on the object's raw keys, before it decodes.
func decodeObject(r io.Reader, dst any) *apiError {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(r)
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		return decodeError(err)
	}
	if dec.More() {
		return &apiError{Error: "one JSON object expected"}
	}
	known := jsonFields(dst)
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the first unknown one by name, whatever the body's order
	for _, k := range keys {
		if !slices.Contains(known, k) {
			return &apiError{Error: "unknown field " + k + " (" + strings.Join(known, ", ") + ")", Field: k}
		}
	}
	if raw == nil {
		return nil
	}
	b, _ := json.Marshal(raw) // re-encodes what was just decoded: cannot fail
	if err := json.Unmarshal(b, dst); err != nil {
		return decodeError(err)
	}
	return nil
}

// jsonFields is the JSON names of the fields of *dst, a pointer to a struct, in order.
func jsonFields(dst any) []string {
	t := reflect.TypeOf(dst).Elem()
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// decodeError names the field of a body that does not decode.
func decodeError(err error) *apiError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field == "":
		return &apiError{Error: "want a JSON object"}
	case errors.As(err, &te):
		return &apiError{Error: fmt.Sprintf("%s: want %s", te.Field, te.Type), Field: te.Field}
	case errors.As(err, &se):
		return &apiError{Error: "not JSON: " + err.Error()}
	}
	return &apiError{Error: "bad body: " + err.Error()}
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) {
	run, err := s.svc.Run(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, service.ErrNoRun):
		writeJSON(w, http.StatusNotFound, apiError{Error: "no run " + r.PathValue("id")})
	case err != nil:
		s.serverError(w, "read the run", err, false)
	default:
		writeJSON(w, http.StatusOK, run)
	}
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) {
	limit, err := limitOf(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error(), Field: "limit"})
		return
	}
	runs, err := s.svc.Runs(r.Context(), limit)
	if err != nil {
		s.serverError(w, "read the runs", err, false)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs})
}

// limitOf reads ?limit=N (1-500, default 20).
func limitOf(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 20, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 500 {
		return 0, fmt.Errorf("limit %q: want 1..500", s)
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
