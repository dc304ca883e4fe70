package kongstandin

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// konnectPath is the Admin API path of a request: the escaped path itself, or, Konnect-style (KonnectPrefix set),
// what follows the control plane's prefix, e.g. /v2/control-planes/{id}/core-entities/upstreams → /upstreams.
// Konnect-style, a request without the bearer token is refused 401, and one outside the prefix, or for / or
// /status (Konnect's control-plane API serves entities, not node information), 404.
func (s *Server) konnectPath(r *http.Request) (string, *apiError) {
	path := r.URL.EscapedPath()
	prefix := s.opts.KonnectPrefix
	if prefix == "" {
		return path, nil
	}
	if s.opts.KonnectToken != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+s.opts.KonnectToken)) != 1 {
		return "", msgError(http.StatusUnauthorized, "Unauthorized")
	}
	rest, under := strings.CutPrefix(path, strings.TrimSuffix(prefix, "/"))
	if trimmed := strings.Trim(rest, "/"); !under || trimmed == "" || trimmed == "status" {
		return "", notFound()
	}
	return rest, nil
}
