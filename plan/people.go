package plan

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/crypto/ssh"

	"github.com/failover/failover/proof"
)

// Person is someone who may take part in a failover's decisions, named once with the identities they prove
// themselves with. Public keys and Slack IDs are not secrets: they travel in the plan, and the plan hash covers them.
type Person struct {
	// Name is how approvers, signed decisions and the audit log name the person, e.g. alice.
	Name string `yaml:"name" json:"name"`
	// Slack lists the person's Slack member IDs (U…): the Slack front door signs their clicks for them.
	Slack []string `yaml:"slack" json:"slack,omitempty"`
	// SSHKeys lists the person's SSH public keys in authorized_keys form (ed25519, ECDSA or RSA): the CLI signs
	// their decisions with one of them.
	SSHKeys []string `yaml:"sshKeys" json:"sshKeys,omitempty"`
	// Groups the person belongs to; approval.approvers names a group as @group.
	Groups []string `yaml:"groups" json:"groups,omitempty"`
}

// GroupPrefix marks a group in approval.approvers: "@sre-oncall" is every person whose groups list sre-oncall.
const GroupPrefix = "@"

// PolicyActor is who the audit log names for decisions the plan makes itself (auto-approve, timeouts), so no
// person may be called that.
const PolicyActor = "policy"

// slackMemberID is the shape of a Slack user's member ID.
var slackMemberID = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)

// HasPeople says whether the plan names people with identities. Without them the plan is in legacy mode: a
// decision carries a name (approval.approvers as written) and nothing proves who sent it.
func (a Approval) HasPeople() bool { return len(a.People) > 0 }

// PersonBySlack finds the person with this Slack member ID.
func (a Approval) PersonBySlack(id string) (Person, bool) {
	for _, p := range a.People {
		if slices.Contains(p.Slack, id) {
			return p, true
		}
	}
	return Person{}, false
}

// PersonByKey finds the person holding this SSH public key, compared by SHA256 fingerprint.
func (a Approval) PersonByKey(key ssh.PublicKey) (Person, bool) {
	want := proof.Fingerprint(key)
	for _, p := range a.People {
		for _, line := range p.SSHKeys {
			k, err := proof.ParsePublicKey(line)
			if err == nil && proof.Fingerprint(k) == want {
				return p, true
			}
		}
	}
	return Person{}, false
}

// MayApprove says whether approval.approvers names this person, directly or through a @group. In legacy mode it
// says whether approval.approvers lists the name as written.
func (a Approval) MayApprove(person string) bool {
	return person != "" && slices.Contains(a.ApproverPeople(), person)
}

// ApproverPeople lists the distinct people approval.approvers names, directly or through @groups, in the order
// they are first named; names that are no person are left out (Validate reports them). In legacy mode it lists
// the distinct approvers as written.
func (a Approval) ApproverPeople() []string {
	var out []string
	add := func(name string) {
		if strings.TrimSpace(name) != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	for _, ap := range a.Approvers {
		if !a.HasPeople() {
			add(ap)
			continue
		}
		group, isGroup := strings.CutPrefix(ap, GroupPrefix)
		for _, p := range a.People {
			if (isGroup && slices.Contains(p.Groups, group)) || (!isGroup && p.Name == ap) {
				add(p.Name)
			}
		}
	}
	return out
}

// validatePeople checks approval.people and that every approver is a person or a group of them.
func (a Approval) validatePeople(v *problems) {
	persons, slackIDs, keys, groups := owners{}, owners{}, owners{}, map[string]bool{}
	for i, p := range a.People {
		f := fmt.Sprintf("approval.people[%d]", i)
		if err := checkName(p.Name); err != "" {
			v.add(f+".name", "%q %s", p.Name, err)
		} else if p.Name == PolicyActor {
			v.add(f+".name", "%q is reserved for the plan's own decisions in the audit log: use the person's name", p.Name)
		} else {
			persons.claim(v, f+".name", p.Name, i, a.People, "name each person once, with all their identities")
		}
		for j, id := range p.Slack {
			ff := fmt.Sprintf("%s.slack[%d]", f, j)
			if !slackMemberID.MatchString(id) {
				v.add(ff, "%q is not a Slack member ID: copy %s's from their Slack profile (⋮, Copy member ID), e.g. U024BE7LH", id, p.Name)
				continue
			}
			slackIDs.claim(v, ff, id, i, a.People, "a Slack user is one person: remove it from one of them")
		}
		for j, line := range p.SSHKeys {
			ff := fmt.Sprintf("%s.sshKeys[%d]", f, j)
			key, err := proof.ParsePublicKey(line)
			if err != nil {
				v.add(ff, "%s's key: %v", p.Name, err)
				continue
			}
			keys.claim(v, ff, "key "+proof.Fingerprint(key), i, a.People, "a key is one person's: remove it from one of them")
		}
		for j, g := range p.Groups {
			ff := fmt.Sprintf("%s.groups[%d]", f, j)
			switch {
			case strings.HasPrefix(g, GroupPrefix):
				v.add(ff, "%q: write the group without %s (approvers name it %s)", g, GroupPrefix, g)
			case checkName(g) != "":
				v.add(ff, "%q %s", g, checkName(g))
			case slices.Contains(p.Groups[:j], g):
				v.add(ff, "%q is listed twice: list each group once", g)
			default:
				groups[g] = true
			}
		}
		if len(p.Slack) == 0 && len(p.SSHKeys) == 0 && !a.AllowUnsigned {
			v.add(f, "%s has neither slack nor sshKeys, so could never sign a decision: add their Slack member ID or SSH "+
				"public key, or set approval.allowUnsigned", p.Name)
		}
	}
	for i, ap := range a.Approvers {
		f := fmt.Sprintf("approval.approvers[%d]", i)
		group, isGroup := strings.CutPrefix(ap, GroupPrefix)
		_, isPerson := persons[ap]
		switch {
		case strings.TrimSpace(ap) == "" || isPerson || (isGroup && groups[group]):
			// a person, a group with members, or blank (reported with the approvers' names)
		case isGroup:
			v.add(f, "group %q has no members: add %s to the groups of the people in it, or remove it", ap, group)
		default:
			if p, ok := a.PersonBySlack(ap); ok {
				v.add(f, "%q is %s's Slack member ID: name the person instead (%s)", ap, p.Name, p.Name)
			} else {
				v.add(f, "%q is not in approval.people: add the person there, or name a group as %sgroup", ap, GroupPrefix)
			}
		}
	}
}

// checkName says what is wrong with a person's or group's name, or "" when nothing is.
func checkName(name string) string {
	switch {
	case strings.TrimSpace(name) == "":
		return "is empty: write a name, e.g. alice"
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsGraphic(r) }):
		return "has a space or control character: use letters, digits, dots and dashes"
	case strings.HasPrefix(name, GroupPrefix):
		return "starts with " + GroupPrefix + ", which marks a group: leave it out"
	}
	return ""
}

// owners maps an identity (a name, a Slack ID, a key fingerprint) to the index of the person it belongs to.
type owners map[string]int

// claim records that person i holds identity id, or reports that it is listed twice or held by another person.
func (o owners) claim(v *problems, field, id string, i int, people []Person, why string) {
	j, taken := o[id]
	switch {
	case !taken:
		o[id] = i
	case j == i:
		v.add(field, "%s is listed twice for %s: list it once", id, people[i].Name)
	default:
		v.add(field, "%s is also approval.people[%d]'s (%s): %s", id, j, people[j].Name, why)
	}
}
