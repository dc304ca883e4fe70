package slackbot

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

const (
	// timestampWindow is how far a request's X-Slack-Request-Timestamp may be from our clock (Slack's rule).
	timestampWindow = 5 * time.Minute
	// replayWindow is how long a request signature is remembered: longer than the whole window a signed request
	// is accepted in (±5 min), so a replay can never outlive its memory.
	replayWindow = 2*timestampWindow + time.Minute
	// maxInteractionBody bounds the body read before it is verified; block_actions payloads carry the whole
	// message, a few KB for our cards.
	maxInteractionBody = 1 << 20
	// answerWithin is how long a request waits for its click to be handled before answering 200 anyway: Slack
	// shows an error after 3 s. The click carries on in the background and answers the user ephemerally.
	answerWithin = 2500 * time.Millisecond
)

// Interactions is the HTTP interactivity endpoint (POST /slack/interactions). It accepts a request only if its
// signature verifies with the signing secret, its timestamp is within ±5 minutes of our clock and it was not seen
// before (replays are ignored); then it hands the click to Approvals.
type Interactions struct {
	secret    Secret
	approvals *Approvals
	logger    *slog.Logger
	replays   *recent
	now       func() time.Time
}

// NewInteractions verifies requests with signingSecret and decides through a.
func NewInteractions(signingSecret Secret, a *Approvals, logger *slog.Logger) *Interactions {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Interactions{secret: signingSecret, approvals: a, logger: logger,
		replays: newRecent(replayWindow, 10000), now: time.Now}
}

// ServeHTTP answers 401 to unsigned, forged or stale requests, 200 (doing nothing) to replays, and otherwise
// 200 once the click is handled or answerWithin has passed.
func (h *Interactions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxInteractionBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	if why := h.verify(r.Header, body); why != "" {
		h.logger.Warn("slack interaction refused", "why", why, "remote", r.RemoteAddr)
		http.Error(w, why, http.StatusUnauthorized)
		return
	}
	// The signature covers the timestamp and the body: the same signature again is the same request again
	// (lower-cased: hex digits in either case verify).
	switch first, full := h.replays.firstTime(strings.ToLower(r.Header.Get("X-Slack-Signature")), h.now()); {
	case full:
		h.logger.Warn("slack interaction refused: replay cache full")
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	case !first:
		h.logger.Warn("slack interaction replayed: ignored", "remote", r.RemoteAddr)
		w.WriteHeader(http.StatusOK)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("payload") == "" {
		http.Error(w, "want a form with a payload field", http.StatusBadRequest)
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		http.Error(w, "payload is not an interaction callback", http.StatusBadRequest)
		return
	}
	done := make(chan ClickResult, 1)
	h.approvals.clickAsync(cb, done)
	select {
	case <-done:
	case <-time.After(answerWithin):
	case <-r.Context().Done():
	}
	w.WriteHeader(http.StatusOK)
}

// verify returns why a request is not from Slack, or "".
func (h *Interactions) verify(header http.Header, body []byte) string {
	ts, err := strconv.ParseInt(header.Get("X-Slack-Request-Timestamp"), 10, 64)
	if err != nil {
		return "missing or bad X-Slack-Request-Timestamp"
	}
	if d := h.now().Sub(time.Unix(ts, 0)); d > timestampWindow || d < -timestampWindow {
		return "timestamp outside ±5 minutes"
	}
	sv, err := slack.NewSecretsVerifier(header, string(h.secret))
	if err != nil {
		return "bad signature headers"
	}
	if _, err := sv.Write(body); err != nil {
		return "bad signature"
	}
	if err := sv.Ensure(); err != nil {
		return "bad signature"
	}
	return ""
}
