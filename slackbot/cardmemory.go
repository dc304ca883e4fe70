package slackbot

import (
	"encoding/json"
	"sync"

	"github.com/slack-go/slack"
)

// cardMemory remembers, per run, the card this process last wrote and the last event Seq it handled, so the next
// event renders onto the remembered card instead of reading it back from Slack with conversations.history (a
// tier-3 method, about 50 calls a minute for the whole workspace). The workflow publishes a run's events one at a
// time, in Seq order; when the previous event (or this one, on a retry) was handled here, the remembered card is
// what Slack holds. Otherwise (another worker handled it, this process restarted, an event was dropped) the card
// is read back as before.
type cardMemory struct {
	mu    sync.Mutex
	max   int
	cards map[string]rememberedCard // run ID →
	order []string                  // run IDs in first-seen order, to bound the memory
}

type rememberedCard struct {
	seq    int    // the last event handled for the run
	blocks []byte // the card as last written (JSON), nil when no card was written here yet
}

func newCardMemory(max int) *cardMemory {
	return &cardMemory{max: max, cards: map[string]rememberedCard{}}
}

// card returns the remembered card of a run if it is current for the event seq: the last event handled here
// was seq-1 or seq itself (a retry). The blocks are decoded afresh, so applying an event cannot change the memory.
func (m *cardMemory) card(runID string, seq int) (*card, bool) {
	m.mu.Lock()
	rc, ok := m.cards[runID]
	m.mu.Unlock()
	if !ok || rc.blocks == nil || (rc.seq != seq-1 && rc.seq != seq) {
		return nil, false
	}
	var bs slack.Blocks
	if err := json.Unmarshal(rc.blocks, &bs); err != nil {
		return nil, false
	}
	return cardFrom(bs.BlockSet), true
}

// handled records that the event seq of a run was handled here; c is the card as written (nil: unchanged).
func (m *cardMemory) handled(runID string, seq int, c *card) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rc, ok := m.cards[runID]
	if !ok {
		if len(m.order) >= m.max {
			delete(m.cards, m.order[0])
			m.order = m.order[1:]
		}
		m.order = append(m.order, runID)
	}
	rc.seq = seq
	if c != nil {
		rc.blocks = []byte(c.json())
	}
	m.cards[runID] = rc
}

// forget drops a run's card (its write failed: what Slack holds is unknown).
func (m *cardMemory) forget(runID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rc, ok := m.cards[runID]; ok {
		rc.blocks = nil
		m.cards[runID] = rc
	}
}
