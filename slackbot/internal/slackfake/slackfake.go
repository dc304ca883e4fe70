// Package slackfake is a recording Slack for tests, built on slacktest: it keeps every message posted, updated or
// sent ephemerally (slacktest has no chat.update and records nothing), refuses one breaking Slack's Block Kit
// limits as Slack does (invalid_blocks, recording nothing), serves them back through
// conversations.history and conversations.replies, answers usergroups.users.list from groups the test sets, can
// play "Slack is down", and runs a Socket Mode endpoint (apps.connections.open plus a WebSocket) that sends
// envelopes and records their acks.
package slackfake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack/slacktest"
)

// Message is one message as the fake stores it.
type Message struct {
	Channel   string
	TS        string
	ThreadTS  string // set for thread replies
	Text      string
	Blocks    json.RawMessage
	Broadcast bool
	// Updates counts chat.update calls on this message.
	Updates int
}

// Ephemeral is one chat.postEphemeral.
type Ephemeral struct {
	Channel, User, Text string
}

// Slack is the running fake.
type Slack struct {
	srv *slacktest.Server

	mu         sync.Mutex
	n          int
	base       int64
	msgs       []*Message
	ephemerals []Ephemeral
	groups     map[string][]string
	calls      map[string]int
	refusals   []string

	down atomic.Bool
	lose map[string]int // method → responses to lose after doing the work
	// limited: method → calls to answer 429 with Retry-After (seconds), doing nothing, as Slack's rate limit does
	limited    map[string]int
	retryAfter int

	sockMu sync.Mutex
	sock   *websocket.Conn
	acks   map[string]bool
}

// Start runs a fake Slack until the test ends.
func Start(tb testing.TB) *Slack {
	f := New()
	tb.Cleanup(f.Close)
	return f
}

// New runs a fake Slack until Close (for TestMain; tests use Start).
func New() *Slack {
	f := &Slack{base: time.Now().Unix(), groups: map[string][]string{}, calls: map[string]int{}, acks: map[string]bool{}, lose: map[string]int{},
		limited: map[string]int{}}
	f.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		for path, h := range map[string]http.HandlerFunc{
			"/chat.postMessage":      f.postMessage,
			"/chat.update":           f.update,
			"/chat.postEphemeral":    f.postEphemeral,
			"/conversations.history": f.history,
			"/conversations.replies": f.replies,
			"/usergroups.users.list": f.groupMembers,
			"/apps.connections.open": f.connectionsOpen,
		} {
			c.Handle(path, f.api(path, h))
		}
		c.Handle("/socket", f.socket)
	})
	f.srv.Start()
	return f
}

// Close stops the fake and drops the Socket Mode connection.
func (f *Slack) Close() {
	f.sockMu.Lock()
	if f.sock != nil {
		f.sock.Close()
	}
	f.sockMu.Unlock()
	f.srv.Stop()
}

// APIURL is the base URL to give slack.OptionAPIURL.
func (f *Slack) APIURL() string { return f.srv.GetAPIURL() }

// SetDown makes every API method answer 503 (true) or work again (false).
func (f *Slack) SetDown(down bool) { f.down.Store(down) }

// SetGroup sets a user group's members.
func (f *Slack) SetGroup(id string, members ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups[id] = members
}

// Calls counts the calls of an API method ("chat.update"), including those refused while down.
func (f *Slack) Calls(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func (f *Slack) api(path string, h http.HandlerFunc) http.HandlerFunc {
	method := strings.TrimPrefix(path, "/")
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.calls[method]++
		f.mu.Unlock()
		if f.down.Load() {
			http.Error(w, "slack is down", http.StatusServiceUnavailable)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		if f.limited[method] > 0 {
			f.limited[method]--
			after := f.retryAfter
			f.mu.Unlock()
			w.Header().Set("Retry-After", strconv.Itoa(after))
			http.Error(w, "ratelimited", http.StatusTooManyRequests)
			return
		}
		lose := f.lose[method] > 0
		if lose {
			f.lose[method]--
		}
		f.mu.Unlock()
		if lose {
			h(discardResponse{}, r) // do it, then answer as if it failed: a response lost on the way back
			http.Error(w, "gateway timeout", http.StatusGatewayTimeout)
			return
		}
		h(w, r)
	}
}

// LoseResponses makes the next n calls of method take effect but answer 504, as if the response was lost.
func (f *Slack) LoseResponses(method string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lose[method] = n
}

// RateLimit makes the next n calls of method answer HTTP 429 with Retry-After: seconds, doing nothing.
func (f *Slack) RateLimit(method string, n, seconds int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limited[method] = n
	f.retryAfter = seconds
}

// discardResponse swallows a response.
type discardResponse struct{}

func (discardResponse) Header() http.Header         { return http.Header{} }
func (discardResponse) Write(b []byte) (int, error) { return len(b), nil }
func (discardResponse) WriteHeader(int)             {}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *Slack) nextTS() string {
	f.n++
	return fmt.Sprintf("%d.%06d", f.base, f.n)
}

// refuse answers a message Slack would not take the way Slack does (HTTP 200, ok false) and keeps the reason for
// Refusals.
func (f *Slack) refuse(w http.ResponseWriter, method string, why *Refusal) {
	f.mu.Lock()
	f.refusals = append(f.refusals, method+": "+why.Error())
	f.mu.Unlock()
	messages := make([]string, len(why.Errors))
	for i, e := range why.Errors {
		messages[i] = "[ERROR] " + e
	}
	writeJSON(w, map[string]any{"ok": false, "error": why.Code, "errors": why.Errors,
		"response_metadata": map[string]any{"messages": messages}})
}

// Refusals lists the messages refused for breaking Slack's limits ("chat.update: invalid_blocks: …"), oldest first.
func (f *Slack) Refusals() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.refusals...)
}

func (f *Slack) postMessage(w http.ResponseWriter, r *http.Request) {
	m := &Message{Channel: r.Form.Get("channel"), ThreadTS: r.Form.Get("thread_ts"), Text: r.Form.Get("text"),
		Blocks: json.RawMessage(orJSON(r.Form.Get("blocks"))), Broadcast: r.Form.Get("reply_broadcast") == "true"}
	if m.Channel == "" {
		writeJSON(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	if why := Check(m.Text, r.Form.Get("blocks")); why != nil {
		f.refuse(w, "chat.postMessage", why)
		return
	}
	f.mu.Lock()
	m.TS = f.nextTS()
	f.msgs = append(f.msgs, m)
	out := f.wire(m)
	f.mu.Unlock()
	writeJSON(w, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "message": out})
}

func (f *Slack) update(w http.ResponseWriter, r *http.Request) {
	if why := Check(r.Form.Get("text"), r.Form.Get("blocks")); why != nil {
		f.refuse(w, "chat.update", why)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.find(r.Form.Get("channel"), r.Form.Get("ts"))
	if m == nil {
		writeJSON(w, map[string]any{"ok": false, "error": "message_not_found"})
		return
	}
	m.Text = r.Form.Get("text")
	if b := r.Form.Get("blocks"); b != "" {
		m.Blocks = json.RawMessage(b)
	}
	m.Updates++
	writeJSON(w, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text})
}

func (f *Slack) postEphemeral(w http.ResponseWriter, r *http.Request) {
	if why := Check(r.Form.Get("text"), r.Form.Get("blocks")); why != nil {
		f.refuse(w, "chat.postEphemeral", why)
		return
	}
	f.mu.Lock()
	f.ephemerals = append(f.ephemerals, Ephemeral{Channel: r.Form.Get("channel"), User: r.Form.Get("user"), Text: r.Form.Get("text")})
	ts := f.nextTS()
	f.mu.Unlock()
	writeJSON(w, map[string]any{"ok": true, "message_ts": ts})
}

func (f *Slack) history(w http.ResponseWriter, r *http.Request) {
	channel := r.Form.Get("channel")
	latest, oldest := tsValue(r.Form.Get("latest"), 1e18), tsValue(r.Form.Get("oldest"), 0)
	inclusive := r.Form.Get("inclusive") == "true" || r.Form.Get("inclusive") == "1"
	limit, _ := strconv.Atoi(r.Form.Get("limit"))
	if limit <= 0 {
		limit = 100
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for i := len(f.msgs) - 1; i >= 0 && len(out) < limit; i-- {
		m := f.msgs[i]
		if m.Channel != channel || (m.ThreadTS != "" && !m.Broadcast) {
			continue
		}
		ts := tsValue(m.TS, 0)
		if ts > latest || ts < oldest || (!inclusive && (ts == latest || ts == oldest)) {
			continue
		}
		out = append(out, f.wire(m))
	}
	writeJSON(w, map[string]any{"ok": true, "messages": orEmpty(out), "has_more": false})
}

func (f *Slack) replies(w http.ResponseWriter, r *http.Request) {
	channel, ts := r.Form.Get("channel"), r.Form.Get("ts")
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, m := range f.msgs {
		if m.Channel == channel && (m.TS == ts || m.ThreadTS == ts) {
			out = append(out, f.wire(m))
		}
	}
	if len(out) == 0 {
		writeJSON(w, map[string]any{"ok": false, "error": "thread_not_found"})
		return
	}
	writeJSON(w, map[string]any{"ok": true, "messages": out, "has_more": false, "response_metadata": map[string]string{"next_cursor": ""}})
}

func (f *Slack) groupMembers(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	members, ok := f.groups[r.Form.Get("usergroup")]
	f.mu.Unlock()
	if !ok {
		writeJSON(w, map[string]any{"ok": false, "error": "no_such_subteam"})
		return
	}
	writeJSON(w, map[string]any{"ok": true, "users": orEmpty(members)})
}

// wire renders a message as the Web API returns it; the caller holds mu.
func (f *Slack) wire(m *Message) map[string]any {
	out := map[string]any{"type": "message", "user": "UBOT", "bot_id": "BBOT", "text": m.Text, "ts": m.TS, "blocks": m.Blocks}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	return out
}

func (f *Slack) find(channel, ts string) *Message {
	for _, m := range f.msgs {
		if m.Channel == channel && m.TS == ts {
			return m
		}
	}
	return nil
}

func tsValue(s string, def float64) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return def
	}
	return v
}

func orJSON(s string) string {
	if s == "" {
		return "[]"
	}
	return s
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Messages returns copies of a channel's messages (cards and replies) in the order they were posted.
func (f *Slack) Messages(channel string) []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Message
	for _, m := range f.msgs {
		if m.Channel == channel {
			out = append(out, *m)
		}
	}
	return out
}

// TopLevel returns a channel's top-level messages (what the channel shows without opening threads; broadcast
// replies included).
func (f *Slack) TopLevel(channel string) []Message {
	var out []Message
	for _, m := range f.Messages(channel) {
		if m.ThreadTS == "" || m.Broadcast {
			out = append(out, m)
		}
	}
	return out
}

// Thread returns the replies under a message, oldest first.
func (f *Slack) Thread(channel, ts string) []Message {
	var out []Message
	for _, m := range f.Messages(channel) {
		if m.ThreadTS == ts {
			out = append(out, m)
		}
	}
	return out
}

// Ephemerals returns the ephemeral messages sent to user.
func (f *Slack) Ephemerals(user string) []Ephemeral {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Ephemeral
	for _, e := range f.ephemerals {
		if e.User == user {
			out = append(out, e)
		}
	}
	return out
}

// Block is one block of a message, decoded loosely for assertions.
type Block struct {
	Type     string    `json:"type"`
	BlockID  string    `json:"block_id"`
	Text     *Text     `json:"text"`
	Fields   []Text    `json:"fields"`
	Elements []Element `json:"elements"`
}

// Element is a button (text is an object) or a context element (text is a string).
type Element struct {
	Type     string          `json:"type"`
	ActionID string          `json:"action_id"`
	Value    string          `json:"value"`
	Style    string          `json:"style"`
	RawText  json.RawMessage `json:"text"`
	// Confirm is the button's confirm dialog (Block Kit confirm object), as posted; nil without one.
	Confirm json.RawMessage `json:"confirm,omitempty"`
}

// Text returns the element's text either way.
func (e Element) Text() string {
	var s string
	if json.Unmarshal(e.RawText, &s) == nil {
		return s
	}
	var t Text
	_ = json.Unmarshal(e.RawText, &t)
	return t.Text
}

// Text is a text object.
type Text struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// BlockList decodes the message's blocks.
func (m Message) BlockList() []Block {
	var bs []Block
	_ = json.Unmarshal(m.Blocks, &bs)
	return bs
}

// Block returns the block with this ID, or one whose ID starts with prefix+":".
func (m Message) Block(id string) (Block, bool) {
	for _, b := range m.BlockList() {
		if b.BlockID == id || strings.HasPrefix(b.BlockID, id+":") {
			return b, true
		}
	}
	return Block{}, false
}

// AllText is every text of the message (fallback, block texts, fields, element texts), one per line.
func (m Message) AllText() string {
	parts := []string{m.Text}
	for _, b := range m.BlockList() {
		if b.Text != nil {
			parts = append(parts, b.Text.Text)
		}
		for _, t := range b.Fields {
			parts = append(parts, t.Text)
		}
		for _, e := range b.Elements {
			parts = append(parts, e.Text())
		}
	}
	return strings.Join(parts, "\n")
}

// Button returns the value of the button with actionID, if the message has it.
func (m Message) Button(actionID string) (string, bool) {
	for _, b := range m.BlockList() {
		for _, e := range b.Elements {
			if e.Type == "button" && e.ActionID == actionID {
				return e.Value, true
			}
		}
	}
	return "", false
}

// Click builds the block_actions payload Slack sends when user presses the button actionID on m.
func Click(m Message, user, actionID, actionTS string) []byte {
	value, _ := m.Button(actionID)
	return ClickWithValue(m, user, actionID, actionTS, value)
}

// ClickWithValue is Click on a button carrying value (an older message's, say).
func ClickWithValue(m Message, user, actionID, actionTS, value string) []byte {
	var blocks any
	_ = json.Unmarshal(m.Blocks, &blocks)
	cb := map[string]any{
		"type":         "block_actions",
		"user":         map[string]string{"id": user, "username": strings.ToLower(user), "name": strings.ToLower(user), "team_id": "T1"},
		"api_app_id":   "A1",
		"token":        "legacy-verification-token",
		"container":    map[string]any{"type": "message", "message_ts": m.TS, "channel_id": m.Channel, "is_ephemeral": false},
		"trigger_id":   "1.2.3",
		"team":         map[string]string{"id": "T1", "domain": "example"},
		"channel":      map[string]string{"id": m.Channel, "name": "failovers"},
		"message":      map[string]any{"type": "message", "ts": m.TS, "text": m.Text, "blocks": blocks},
		"response_url": "https://hooks.slack.invalid/actions/T1/1/x",
		"actions": []map[string]any{{"action_id": actionID, "block_id": "fo-actions", "type": "button", "value": value,
			"text": map[string]any{"type": "plain_text", "text": actionID}, "action_ts": actionTS}},
	}
	b, _ := json.Marshal(cb)
	return b
}

// Form wraps a payload the way Slack posts it: application/x-www-form-urlencoded, field payload.
func Form(payload []byte) []byte { return []byte("payload=" + url.QueryEscape(string(payload))) }

// Sign returns the headers Slack signs a request with: v0=HMAC-SHA256(secret, "v0:ts:body").
func Sign(secret string, ts time.Time, body []byte) http.Header {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:", stamp)
	mac.Write(body)
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("X-Slack-Request-Timestamp", stamp)
	h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return h
}

// Post sends a body with headers to url and returns the status code.
func Post(url string, h http.Header, body []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Socket Mode.

func (f *Slack) connectionsOpen(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"ok": true, "url": "ws://" + f.srv.ServerAddr + "/socket"})
}

func (f *Slack) socket(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	f.sockMu.Lock()
	if f.sock != nil {
		f.sock.Close()
	}
	f.sock = c
	err = c.WriteJSON(map[string]any{"type": "hello", "num_connections": 1,
		"connection_info": map[string]string{"app_id": "A1"}, "debug_info": map[string]any{"host": "fake"}})
	f.sockMu.Unlock()
	if err != nil {
		return
	}
	stop := make(chan struct{})
	go func() { // the client expects pings, or it reconnects
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if c.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second)) != nil {
					return
				}
			}
		}
	}()
	defer close(stop)
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		var ack struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if json.Unmarshal(data, &ack) == nil && ack.EnvelopeID != "" {
			f.sockMu.Lock()
			f.acks[ack.EnvelopeID] = true
			f.sockMu.Unlock()
		}
	}
}

// SocketConnected reports whether a Socket Mode client is connected.
func (f *Slack) SocketConnected() bool {
	f.sockMu.Lock()
	defer f.sockMu.Unlock()
	return f.sock != nil
}

// SendInteractive sends an interactive envelope (a click) over the Socket Mode connection.
func (f *Slack) SendInteractive(envelopeID string, payload []byte) error {
	f.sockMu.Lock()
	defer f.sockMu.Unlock()
	if f.sock == nil {
		return fmt.Errorf("no socket mode client connected")
	}
	return f.sock.WriteJSON(map[string]any{"type": "interactive", "envelope_id": envelopeID,
		"payload": json.RawMessage(payload), "accepts_response_payload": false})
}

// Acked reports whether the client acknowledged an envelope.
func (f *Slack) Acked(envelopeID string) bool {
	f.sockMu.Lock()
	defer f.sockMu.Unlock()
	return f.acks[envelopeID]
}
