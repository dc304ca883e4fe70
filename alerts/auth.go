package alerts

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Auth holds the credentials the webhook accepts: a bearer token, basic-auth user and password, or both.
// The zero value accepts nothing.
type Auth struct {
	Token          string
	User, Password string
}

// Configured says whether any credential is set.
func (a Auth) Configured() bool { return a.Token != "" || (a.User != "" && a.Password != "") }

// Allow checks the request's Authorization header in constant time.
func (a Auth) Allow(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	switch {
	case a.Token != "" && strings.EqualFold(scheme, "Bearer"):
		return equal(strings.TrimSpace(cred), a.Token)
	case a.User != "" && a.Password != "" && strings.EqualFold(scheme, "Basic"):
		user, pass, ok := r.BasicAuth()
		// Both compared, always, so the time taken does not tell which one was wrong.
		u, p := equal(user, a.User), equal(pass, a.Password)
		return ok && u && p
	}
	return false
}

// equal compares digests so neither the content nor the length of the secret leaks through timing.
func equal(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
