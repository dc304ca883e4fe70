package slackbot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/slack-go/slack"
	"golang.org/x/crypto/ssh"

	"github.com/failover/failover/control"
	"github.com/failover/failover/proof"
	"github.com/failover/failover/workflows"
)

// Workflows is what the click handlers need from Temporal: a failover run's status, and its approve, reject and
// operator-control (abort, pause, resume) Updates.
type Workflows interface {
	// Status returns the run's status; ErrRunClosed when the run has ended.
	Status(ctx context.Context, workflowID, runID string) (workflows.Status, error)
	// Decide sends the approve, reject, abort, pause or resume Update to that run and waits for its result; updateID makes a repeat of
	// the same click a no-op on the server.
	Decide(ctx context.Context, workflowID, runID, update, updateID string, req workflows.ApprovalRequest) (workflows.DecisionState, error)
	// EvacuationStatus returns the status of the evacuation whose first run is firstRunID, from its current run
	// (an evacuation continues as new), and that run's ID; ErrRunClosed when it has ended.
	EvacuationStatus(ctx context.Context, workflowID, firstRunID string) (workflows.EvacuationStatus, string, error)
}

// ErrRunClosed means the failover run a message belongs to has ended (control.ErrRunClosed).
var ErrRunClosed = control.ErrRunClosed

// Temporal implements Workflows with a Temporal client, through package control.
type Temporal struct {
	Client client.Client
}

// Status asks the run for its status; a closed run is refused by the server without asking a worker.
func (t Temporal) Status(ctx context.Context, workflowID, runID string) (workflows.Status, error) {
	return control.OpenStatus(ctx, t.Client, workflowID, runID)
}

// EvacuationStatus finds the evacuation's current run, which must belong to the evacuation that posted the card
// (its first run is firstRunID: a later evacuation of the same region is another one) and still run, and asks it.
func (t Temporal) EvacuationStatus(ctx context.Context, workflowID, firstRunID string) (workflows.EvacuationStatus, string, error) {
	desc, err := t.Client.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		return workflows.EvacuationStatus{}, "", fmt.Errorf("describe %s: %w", workflowID, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetFirstRunId() != firstRunID || info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return workflows.EvacuationStatus{}, "", fmt.Errorf("evacuation %s (first run %s): %w", workflowID, firstRunID, ErrRunClosed)
	}
	runID := info.GetExecution().GetRunId()
	st, err := control.EvacuationStatus(ctx, t.Client, workflowID, runID)
	return st, runID, err
}

// Decide sends the Update to that very run, so an earlier run's message cannot decide a later run.
func (t Temporal) Decide(ctx context.Context, workflowID, runID, update, updateID string, req workflows.ApprovalRequest) (workflows.DecisionState, error) {
	return control.Decide(ctx, t.Client, control.Vote{WorkflowID: workflowID, RunID: runID, Update: update, Request: req, UpdateID: updateID})
}

// Allowlist is the Slack-side list of who may press Approve / Reject / Abort / Pause / Resume: Slack user IDs, and user groups whose members
// are read with usergroups.users.list and cached for TTL. It is checked before anything reaches Temporal.
//
// It narrows, it does not widen: the workflow still requires the clicking user's ID in the plan's
// approval.approvers, so a group member who is not in the plan is refused by the workflow.
type Allowlist struct {
	users  []string
	groups []string
	api    *slack.Client
	// TTL is how long a group's members are trusted before they are read again; default 5 minutes.
	TTL time.Duration

	mu      sync.Mutex
	members map[string]groupMembers
	now     func() time.Time
}

type groupMembers struct {
	users []string
	at    time.Time
}

// NewAllowlist allows the given user IDs and the members of the given user group IDs.
func NewAllowlist(api *slack.Client, users, groups []string) *Allowlist {
	return &Allowlist{users: users, groups: groups, api: api, TTL: 5 * time.Minute, members: map[string]groupMembers{}, now: time.Now}
}

// Allows reports whether user may press the buttons. When a group's members cannot be read, the last members
// read are used; with none, the error is returned (and the click refused).
func (l *Allowlist) Allows(ctx context.Context, user string) (bool, error) {
	ok, _, err := l.Membership(ctx, user)
	return ok, err
}

// Membership reports whether user may press the buttons and, when the user is not listed by ID, which of the
// allow-list's user groups let them in: every group is read (within TTL) at the click, so the decision's audit
// record names the groups that granted membership when the user clicked.
func (l *Allowlist) Membership(ctx context.Context, user string) (allowed bool, groups []string, err error) {
	if slices.Contains(l.users, user) {
		return true, nil, nil
	}
	var errs []error
	for _, g := range l.groups {
		members, err := l.groupMembers(ctx, g)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if slices.Contains(members, user) {
			groups = append(groups, g)
		}
	}
	if len(groups) > 0 {
		return true, groups, nil
	}
	return false, nil, errors.Join(errs...)
}

func (l *Allowlist) groupMembers(ctx context.Context, group string) ([]string, error) {
	l.mu.Lock()
	cached, ok := l.members[group]
	l.mu.Unlock()
	if ok && l.now().Sub(cached.at) < l.TTL {
		return cached.users, nil
	}
	users, err := l.api.GetUserGroupMembersContext(ctx, group)
	if err != nil {
		if ok {
			return cached.users, nil
		}
		return nil, fmt.Errorf("members of user group %s: %w", group, err)
	}
	l.mu.Lock()
	l.members[group] = groupMembers{users: users, at: l.now()}
	l.mu.Unlock()
	return users, nil
}

// Approvals turns Approve / Reject / Abort / Pause / Resume clicks into the workflow's Updates of those names. Both
// delivery modes (HTTP via Interactions, Socket Mode via RunSocketMode) hand it the callbacks they have
// authenticated.
//
// A click changes the workflow only if, in order: it is not a repeat of a click this replica handled, its button
// value is a failover decision, the user is on the Allowlist (when one is set; the user groups that let them in
// are recorded with the decision), the run it names is still open and has not recorded this click already (a
// replay, or a redelivery another replica handled: answered "already recorded"), runs the plan it names and (for
// Approve / Reject) waits for the decision kind it names or is not paused (for Pause) or is paused or held
// (for Resume), the user is a person in the plan (plans with
// approval.people: the click is then signed with the FrontDoor key), and the workflow's own validator accepts the
// user (plan approvers, proof, four eyes, one vote per person). Every refusal is answered with an ephemeral message to the user alone.
type Approvals struct {
	api       *slack.Client
	workflows Workflows
	allow     *Allowlist
	logger    *slog.Logger
	// FrontDoor signs, on plans with approval.people, the decision of the person whose Slack ID clicked (the
	// workers trust its public key); nil refuses clicks on such plans, since an unsigned click would not count.
	FrontDoor ssh.Signer
	// Timeout bounds handling one click (status query and Update); default 20 s.
	Timeout time.Duration

	seen     *recent
	now      func() time.Time
	inflight sync.WaitGroup
}

// NewApprovals answers users with api (the bot client) and decides through wf. allow may be nil: the plan's
// approvers, checked by the workflow, then decide alone.
func NewApprovals(api *slack.Client, wf Workflows, allow *Allowlist, logger *slog.Logger) *Approvals {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Approvals{api: api, workflows: wf, allow: allow, logger: logger, Timeout: 20 * time.Second,
		seen: newRecent(replayWindow, 10000), now: time.Now}
}

// Click results.
const (
	ClickRecorded   = "recorded"    // the Update was accepted
	ClickIgnored    = "ignored"     // not a failover button (another action, another interaction type)
	ClickDuplicate  = "duplicate"   // the same click was handled already (redelivery, replay)
	ClickNotAllowed = "not-allowed" // the user is not on the Slack allow-list
	ClickStale      = "stale"       // another run, another plan, another decision, or nothing pending
	ClickRefused    = "refused"     // the workflow's validator said no, or the Update failed
)

// ClickResult says what became of a click.
type ClickResult struct {
	Result string
	// Detail is what the user was told, or why the click was ignored.
	Detail string
	State  workflows.DecisionState
}

// Click handles one interaction callback (already authenticated) and answers the user.
func (a *Approvals) Click(ctx context.Context, cb slack.InteractionCallback) ClickResult {
	start := time.Now()
	res := a.click(ctx, cb)
	a.logger.Info("slack click", "user", cb.User.ID, "result", res.Result, "detail", res.Detail, "took", time.Since(start).Round(time.Millisecond))
	return res
}

func (a *Approvals) click(ctx context.Context, cb slack.InteractionCallback) ClickResult {
	if cb.Type != slack.InteractionTypeBlockActions {
		return ClickResult{Result: ClickIgnored, Detail: "interaction type " + string(cb.Type)}
	}
	var act *slack.BlockAction
	for _, x := range cb.ActionCallback.BlockActions {
		if x != nil && decisionAction(x.ActionID) {
			act = x
			break
		}
	}
	if act == nil {
		return ClickResult{Result: ClickIgnored, Detail: "no failover button in the callback"}
	}
	user := cb.User.ID
	key := clickKey(cb, act)
	if first, _ := a.seen.firstTime(key, a.now()); !first {
		return ClickResult{Result: ClickDuplicate, Detail: "this click was handled already"}
	}
	v, err := ParseButtonValue(act.Value)
	if err != nil {
		return a.answer(ctx, cb, ClickResult{Result: ClickIgnored, Detail: "That button is not a failover decision: nothing changed."})
	}
	var groups []string
	if a.allow != nil {
		var ok bool
		ok, groups, err = a.allow.Membership(ctx, user)
		switch {
		case !ok && err != nil:
			return a.answer(ctx, cb, ClickResult{Result: ClickNotAllowed,
				Detail: "Could not check that you may decide (Slack user groups unreadable); nothing changed. Try again, or use `starter approve`."})
		case !ok:
			return a.answer(ctx, cb, ClickResult{Result: ClickNotAllowed,
				Detail: fmt.Sprintf("You are not allowed to decide failovers, so nothing changed. Ask an approver of %s.", v.WorkflowID)})
		}
	}
	t, err := a.status(ctx, v)
	st, runID := t.st, t.runID
	if err != nil {
		detail := "This message belongs to a failover that has ended (or no longer exists): nothing changed."
		if !errors.Is(err, ErrRunClosed) && !control.IsNotFound(err) {
			detail = "Could not reach the failover to check this message; nothing changed. Try again, or use `starter approve`."
		}
		return a.answer(ctx, cb, ClickResult{Result: ClickStale, Detail: detail})
	}
	// The workflow's own record answers a click some front door (this replica or another) handled already.
	if rec, ok := workflows.RecordedClick(st.Approvals, key); ok {
		return a.answer(ctx, cb, recorded(rec))
	}
	update, kind := updateOf(act.ActionID), workflows.ControlKind
	why := staleReason(st, v)
	if isControl(update) {
		why = orDefault(staleControl(st, v), staleToggle(t, update))
	}
	if why != "" {
		return a.answer(ctx, cb, ClickResult{Result: ClickStale, Detail: "This message is out of date: " + why + ". Nothing changed."})
	}
	if !isControl(update) {
		kind = st.Pending.Kind
	}
	vote := control.Vote{WorkflowID: v.WorkflowID, RunID: runID, Update: update, UpdateID: "slack:" + key,
		Request: workflows.ApprovalRequest{By: user, PlanHash: v.PlanHash, Via: proof.ViaSlack, Click: key, SlackGroups: groups}}
	if st.Approval.HasPeople() {
		var refused *ClickResult
		if vote, refused = a.sign(vote, kind, st, user); refused != nil {
			return a.answer(ctx, cb, *refused)
		}
	}
	state, err := a.workflows.Decide(ctx, vote.WorkflowID, vote.RunID, vote.Update, vote.UpdateID, vote.Request)
	if err != nil {
		refusal, why, refused := control.Refusal(err)
		switch {
		case refusal == workflows.RefusedRecorded: // another replica recorded this click meanwhile
			return a.answer(ctx, cb, ClickResult{Result: ClickDuplicate, Detail: "Already recorded, nothing changed: " + clip(esc(why), 500, "")})
		case refusal == workflows.RefusedNotApprover:
			return a.answer(ctx, cb, ClickResult{Result: ClickNotAllowed,
				Detail: "You are not allowed to decide this failover, so nothing changed: " + clip(esc(why), 500, "")})
		case refused:
			return a.answer(ctx, cb, ClickResult{Result: ClickRefused, Detail: "Refused, nothing changed: " + clip(esc(why), 500, "")})
		}
		a.logger.Warn("slack: the decision did not reach the failover", "workflow", v.WorkflowID, "run", v.RunID, "error", err)
		return a.answer(ctx, cb, ClickResult{Result: ClickRefused,
			Detail: "Could not reach the failover to record your decision; nothing changed. Try again, or use `starter approve`."})
	}
	detail := fmt.Sprintf("Your %s of %s is recorded: %d of %d approvals.", map[string]string{
		workflows.ApproveUpdate: "approval", workflows.RejectUpdate: "rejection"}[update], v.WorkflowID, state.Have, state.Needed)
	if state.Outcome != "" {
		detail += " Decided: " + state.Outcome + "."
	}
	if isControl(update) {
		detail = controlRecorded(update, v.WorkflowID, t.evacuation)
	}
	return a.answer(ctx, cb, ClickResult{Result: ClickRecorded, Detail: detail, State: state})
}

// target is what a click decides on: the run's status, and the run that takes the decision; for an evacuation,
// also why its blast radius holds it ("" when it does not).
type target struct {
	st         workflows.Status
	runID      string
	held       string
	evacuation bool
}

// noun names what the click decides on, for the user's answer.
func (t target) noun() string {
	if t.evacuation {
		return "evacuation"
	}
	return "failover"
}

// status is what a button decides on: the failover run the button names, or, for an evacuation's card
// (control.IsEvacuation), its current run, with its hash, pending decision, approval policy, recorded decisions
// and pause in a failover's shape (the button names its first run).
func (a *Approvals) status(ctx context.Context, v ButtonValue) (target, error) {
	if !control.IsEvacuation(v.WorkflowID) {
		st, err := a.workflows.Status(ctx, v.WorkflowID, v.RunID)
		return target{st: st, runID: v.RunID}, err
	}
	ev, runID, err := a.workflows.EvacuationStatus(ctx, v.WorkflowID, v.RunID)
	if err != nil {
		return target{evacuation: true}, err
	}
	return target{st: workflows.Status{Kind: ev.Kind, PlanHash: ev.Hash, Approval: ev.Policy, Step: ev.Step, Approvals: ev.Approvals,
		Pending: ev.Pending, Paused: ev.Paused, PausedBy: ev.PausedBy, Outcome: ev.Outcome}, runID: runID, held: ev.Held, evacuation: true}, nil
}

// updateOf is the Update a button sends.
func updateOf(actionID string) string {
	switch actionID {
	case ActionReject:
		return workflows.RejectUpdate
	case ActionAbort:
		return workflows.AbortUpdate
	case ActionPause:
		return workflows.PauseUpdate
	case ActionResume:
		return workflows.ResumeUpdate
	}
	return workflows.ApproveUpdate
}

// recorded answers a click the workflow has recorded already, from its record: a replay, or the same click
// delivered to another replica of the front door. It is not counted again.
func recorded(a workflows.Approval) ClickResult {
	return ClickResult{Result: ClickDuplicate, Detail: fmt.Sprintf("Already recorded: this click was handled at %s as %s's %s "+
		"(via %s); it is not counted again, and nothing changed.", a.At.UTC().Format(time.RFC3339), esc(a.By), a.Decision, a.Via)}
}

// sign signs the click for the person in the plan whose Slack ID clicked, with the front door's key; the Update ID
// becomes the proof's ID (a redelivered click is caught before: by the recent-click cache, and on any replica by the
// workflow's record of the click, which its validator also checks). It returns the answer
// for the user instead when the click cannot be signed.
func (a *Approvals) sign(vote control.Vote, kind workflows.DecisionKind, st workflows.Status, user string) (control.Vote, *ClickResult) {
	if a.FrontDoor == nil {
		return vote, &ClickResult{Result: ClickRefused, Detail: "This failover's plan names approval.people, so Slack decisions " +
			"must be signed by the front door, and this front door has no key (starter serve --front-door-key): nothing changed. " +
			"Use `starter " + vote.Update + "` with your SSH key."}
	}
	person, ok := st.Approval.PersonBySlack(user)
	if !ok {
		return vote, &ClickResult{Result: ClickNotAllowed, Detail: fmt.Sprintf("Your Slack user (%s) is nobody in the plan's "+
			"approval.people, so nothing changed: ask for your Slack member ID to be added to your person there.", user)}
	}
	signed, err := vote.Sign(a.FrontDoor, kind, person.Name, proof.ViaSlack, a.now())
	if err != nil {
		a.logger.Error("slack: could not sign the decision", "user", user, "person", person.Name, "error", err)
		return vote, &ClickResult{Result: ClickRefused, Detail: "Could not sign your decision; nothing changed. Try again, or use `starter " + vote.Update + "`."}
	}
	return signed, nil
}

// staleReason says why a button no longer applies to the run's current state, or "".
func staleReason(st workflows.Status, v ButtonValue) string {
	switch {
	case st.PlanHash != v.PlanHash:
		return fmt.Sprintf("it shows plan %s but the failover runs plan %s", v.PlanHash, st.PlanHash)
	case st.Outcome != "":
		return "the failover has ended (" + st.Outcome + ")"
	case st.Pending == nil || st.Pending.Outcome != "":
		return "the failover waits for no decision now (step " + st.Step + ")"
	case st.Pending.Kind != v.Kind:
		return fmt.Sprintf("it asks %s but the failover now asks %s", v.Kind, st.Pending.Kind)
	}
	return ""
}

// staleControl says why a control button (Abort, Pause, Resume) no longer applies to the run, or "".
func staleControl(st workflows.Status, v ButtonValue) string {
	switch {
	case v.Kind != workflows.ControlKind:
		return "it is not an operator control"
	case st.PlanHash != v.PlanHash:
		return fmt.Sprintf("it shows plan %s but the failover runs plan %s", v.PlanHash, st.PlanHash)
	case st.Outcome != "":
		return "the failover has ended (" + st.Outcome + ")"
	}
	return ""
}

// clickKey identifies one click: the same user pressing the same button at the same instant.
func clickKey(cb slack.InteractionCallback, act *slack.BlockAction) string {
	return strings.Join([]string{cb.User.ID, act.ActionID, act.ActionTs, cb.Container.MessageTs}, ":")
}

// answer tells the clicking user, and only them, what happened.
func (a *Approvals) answer(ctx context.Context, cb slack.InteractionCallback, res ClickResult) ClickResult {
	channel := cb.Channel.ID
	if channel == "" {
		channel = cb.Container.ChannelID
	}
	if channel == "" || cb.User.ID == "" {
		return res
	}
	if _, err := a.api.PostEphemeralContext(ctx, channel, cb.User.ID, slack.MsgOptionText(res.Detail, false)); err != nil {
		a.logger.Warn("slack: could not answer the user", "user", cb.User.ID, "error", err)
	}
	return res
}

// clickAsync handles a click in the background, so the transport can acknowledge Slack at once. done (may be nil)
// receives the click's result once it is handled.
func (a *Approvals) clickAsync(cb slack.InteractionCallback, done chan<- ClickResult) {
	a.inflight.Add(1)
	go func() {
		defer a.inflight.Done()
		ctx, cancel := context.WithTimeout(context.Background(), a.Timeout)
		defer cancel()
		res := a.Click(ctx, cb)
		if done != nil {
			done <- res
		}
	}()
}

// Wait blocks until the clicks being handled are done (for a clean shutdown).
func (a *Approvals) Wait() { a.inflight.Wait() }
