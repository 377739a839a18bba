package api

import (
	"net/http"
	"strings"
)

// crossOrigin refuses state-changing requests another site made a browser send (net/http's
// CrossOriginProtection: Sec-Fetch-Site, else Origin against Host). Requests with neither
// header (curl, scripts) pass: no browser sent them on another site's behalf.
var crossOrigin = http.NewCrossOriginProtection()

// logout is POST /logout, the pages' "Sign out" button: it expires the sign-in cookie (the
// same name, path and attributes, Max-Age 0) and sends the browser to the sign-in form. A
// cross-site request is refused with 403 and keeps the cookie.
//
// The cookie's value is derived from the API token (session), so signing out ends this
// browser's session only: a copy of the cookie taken elsewhere stays valid until
// METAPIPE_API_TOKEN changes.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if err := crossOrigin.Check(r); err != nil {
		http.Error(w, "sign-out refused: "+err.Error(), http.StatusForbidden)
		return
	}
	secure := r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: secure})
	http.Redirect(w, r, "/login?signed_out=1", http.StatusSeeOther)
}
