package codec

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"go.temporal.io/sdk/converter"
)

// ServerOptions guard the codec endpoint that the Web UI (and `temporal --codec-endpoint`) call.
type ServerOptions struct {
	// AllowedOrigins are the Web UI origins (scheme://host:port) a browser may call from, with its credentials.
	// "*" allows any page, and then never with credentials: name the Web UI's origin instead.
	AllowedOrigins []string
	// Token, when set, must arrive as "Authorization: Bearer <token>".
	Token string
}

// maxBody bounds a request: Temporal's own blob limit is 2 MiB per payload, and the UI decodes one event at a time.
const maxBody = 16 << 20

// NewServer serves POST /encode and /decode (Temporal's remote codec protocol) with CORS for the Web UI's origin
// and an optional bearer token. Preflight (OPTIONS) requests carry no credentials, so they skip the token check.
func NewServer(c *Codec, opts ServerOptions) http.Handler {
	codecs := converter.NewPayloadCodecHTTPHandler(c)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" {
			if !opts.allows(origin) {
				http.Error(w, "origin "+origin+" is not allowed: start the codec server with --cors-origin "+origin, http.StatusForbidden)
				return
			}
			h := w.Header()
			if opts.anyOrigin() {
				// Any page may call: a browser must not send its credentials (cookies, a session) along. The bearer
				// token is still required.
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Add("Vary", "Origin")
				h.Set("Access-Control-Allow-Credentials", "true")
			}
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
			h.Set("Access-Control-Max-Age", "600")
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if opts.Token != "" && !bearerMatches(r.Header.Get("Authorization"), opts.Token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="failover codec"`)
			http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
		// Read the body here rather than in the SDK's handler, which answers every read failure 400 ("your
		// request is wrong"): an oversized body is 413, and a body cut short by the connection 503 (try again).
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			http.Error(w, fmt.Sprintf("body over %d bytes: decode fewer payloads at once", maxBody), http.StatusRequestEntityTooLarge)
			return
		case err != nil:
			http.Error(w, "body not read to its end: "+err.Error()+": retry", http.StatusServiceUnavailable)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		codecs.ServeHTTP(w, r)
	})
}

func (o ServerOptions) allows(origin string) bool {
	return o.anyOrigin() || slices.Contains(o.AllowedOrigins, strings.TrimSuffix(origin, "/"))
}

func (o ServerOptions) anyOrigin() bool { return slices.Contains(o.AllowedOrigins, "*") }

// bearerMatches compares "Bearer <token>" with the token through their SHA-256 digests, in constant time whatever
// the lengths.
func bearerMatches(header, token string) bool {
	got, ok := strings.CutPrefix(header, "Bearer ")
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(token))
	return ok && subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
