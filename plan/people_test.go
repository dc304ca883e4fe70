package plan

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/failover/failover/proof"
)

// The example plan's people: alice and bob in sre-oncall with Slack IDs and SSH keys, carol with a Slack ID only;
// approvers ["@sre-oncall", carol].
const (
	aliceKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHnjPpKs7pu9G10wfxYn65CH4T+x/3OOYBdYN2inok7u alice@laptop"
	bobECDSA = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBCGG/mIKM/7N8a3w87DheMSI3HSg8aVQ1AB1ndY8nVX+qg86lWDCvji3DX+DR3/a3CpqpYEvTANEWEwjO1Nr7yE= bob@desktop"
)

func TestLegacyPlansKeepTheirMeaning(t *testing.T) {
	p := example(t)
	p.Approval.People, p.Approval.FourEyes = nil, false
	p.Approval.Approvers = []string{"alice", "U024BE7LH", "@sre-leads"} // names, Slack IDs, anything: compared as written
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	a := p.Approval
	if a.HasPeople() || !a.MayApprove("U024BE7LH") || !a.MayApprove("@sre-leads") || a.MayApprove("bob") {
		t.Fatalf("legacy approvers %v: MayApprove does not compare names as written", a.Approvers)
	}
	// The new fields are left out of a legacy plan's JSON, so its hash is what it was before they existed.
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"people", "peopleFile", "fourEyes", "allowUnsigned"} {
		if strings.Contains(string(b), `"`+field+`"`) {
			t.Errorf("legacy approval JSON has %s: %s", field, b)
		}
	}
}

func TestFindingPeople(t *testing.T) {
	a := example(t).Approval
	if p, ok := a.PersonBySlack("U0G9QF9C6"); !ok || p.Name != "bob" {
		t.Errorf("PersonBySlack(bob's ID) = %v, %v", p.Name, ok)
	}
	if _, ok := a.PersonBySlack("U999"); ok {
		t.Error("found a person for an unknown Slack ID")
	}
	// The same key with another comment is the same key.
	key, err := proof.ParsePublicKey(strings.Replace(bobECDSA, "bob@desktop", "bob@elsewhere", 1))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := a.PersonByKey(key); !ok || p.Name != "bob" {
		t.Errorf("PersonByKey(bob's ECDSA key) = %v, %v", p.Name, ok)
	}
	other, err := proof.ParsePublicKey("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGmvSfFSmK0yxgDdsYOZZDJ4G1AiRSMXFNaq7YTqJqbl")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.PersonByKey(other); ok {
		t.Error("found a person for an unknown key")
	}
	if got := a.ApproverPeople(); !slices.Equal(got, []string{"alice", "bob", "carol"}) {
		t.Errorf("approvers %v resolve to %v, want alice, bob (@sre-oncall) and carol", a.Approvers, got)
	}
	for name, want := range map[string]bool{"alice": true, "bob": true, "carol": true, "dave": false, "": false,
		"U024BE7LH": false, "@sre-oncall": false} {
		if a.MayApprove(name) != want {
			t.Errorf("MayApprove(%q) = %v", name, !want)
		}
	}
}

func TestValidatePeople(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(a *Approval)
		want   []string // each must appear in the error
	}{
		{"unparsable key", func(a *Approval) { a.People[1].SSHKeys[0] = "ssh-ed25519 AAAA bob@laptop" },
			[]string{"approval.people[1].sshKeys[0]: bob's key: not a public key"}},
		{"DSA key", func(a *Approval) {
			a.People[2].SSHKeys = []string{"ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4EddRIpUt9KnC7s5Of2EbdSPO9EAMMeP4C2USZpRV1AIlH7WT2NWPq/xfW6MPbLm1Vs14E7gB00b/JmYLdrmVClpJ+f6AR7ECLCT7up1/63xhv4O1fnxqimFQ8E+4P208UewwI1VBNaFpEy9nXzrith1yrv8iIDGZ3RSAHHAAAAFQCXYFCPFSMLzLKSuYKi64QL8Fgc9QAAAIEA9+GghdabPd7LvKtcNrhXuXmUr7v6OuqC+VdMCz0HgmdRWVeOutRZT+ZxBxCBgLRJFnEj6EwoFhO3zwkyjMim4TwWeotUfI0o4KOuHiuzpnWRbqN/C/ohNWLx+2J6ASQ7zKTxvqhRkImog9/hWuWfBpKLZl6Ae1UlZAFMO/7PSSoAAACAYy2LU+Xm2OFdOJhOcRCVDg5XxU9BFQVD7lOqJq3mWv1vLDfPGT0Dq6LPJt9tMVJxj+jUkGzp1PcSsJXJ2RBjbRWk9wFTbsUNLGNUR2Ww5LgwJRZ0CrGMYamWHNxIuHdbutD2yPA8TiFJzNHgxmRjwQ7VNFv2Jc4rq1P8PMdozWs= carol@old"}
		}, []string{"approval.people[2].sshKeys[0]: carol's key: key type ssh-dss is not accepted"}},
		{"duplicate name", func(a *Approval) { a.People[1].Name = "alice" },
			[]string{"approval.people[1].name: alice is also approval.people[0]'s (alice)", "name each person once"}},
		{"Slack ID claimed twice", func(a *Approval) { a.People[2].Slack = []string{"U024BE7LH"} },
			[]string{"approval.people[2].slack[0]: U024BE7LH is also approval.people[0]'s (alice)"}},
		{"key claimed twice", func(a *Approval) {
			a.People[2].SSHKeys = []string{strings.Replace(aliceKey, "alice@laptop", "carol", 1)}
		},
			[]string{"approval.people[2].sshKeys[0]: key SHA256:", "is also approval.people[0]'s (alice)"}},
		{"key listed twice", func(a *Approval) { a.People[0].SSHKeys = append(a.People[0].SSHKeys, aliceKey) },
			[]string{"approval.people[0].sshKeys[1]", "listed twice for alice"}},
		{"bad Slack ID", func(a *Approval) { a.People[0].Slack = []string{"@alice"} },
			[]string{`approval.people[0].slack[0]: "@alice" is not a Slack member ID`}},
		{"unknown approver", func(a *Approval) { a.Approvers = append(a.Approvers, "dave") },
			[]string{`approval.approvers[2]: "dave" is not in approval.people`}},
		{"unknown group", func(a *Approval) { a.Approvers = append(a.Approvers, "@dba") },
			[]string{`approval.approvers[2]: group "@dba" has no members`}},
		{"Slack ID as approver", func(a *Approval) { a.Approvers = append(a.Approvers, "U0A1B2C3D") },
			[]string{`approval.approvers[2]: "U0A1B2C3D" is carol's Slack member ID: name the person instead (carol)`}},
		{"quorum above distinct people", func(a *Approval) { a.Quorum = 4 },
			[]string{"approval.quorum: is 4", "3 distinct"}},
		{"a group and its members count once", func(a *Approval) { a.Approvers, a.Quorum = []string{"@sre-oncall", "alice", "bob"}, 3 },
			[]string{"approval.quorum: is 3", "2 distinct"}},
		{"four eyes need one more approver", func(a *Approval) { a.Quorum = 3 },
			[]string{"approval.fourEyes: is on with quorum 3 and 3 distinct approver(s)"}},
		{"reserved name", func(a *Approval) { a.People[2].Name = PolicyActor }, []string{`approval.people[2].name: "policy" is reserved`}},
		{"name with a space", func(a *Approval) { a.People[2].Name = "carol smith" }, []string{"approval.people[2].name", "has a space"}},
		{"name like a group", func(a *Approval) { a.People[2].Name = "@carol" }, []string{"approval.people[2].name", "marks a group"}},
		{"group written with @", func(a *Approval) { a.People[2].Groups = []string{"@payments-leads"} },
			[]string{"approval.people[2].groups[0]", "without @"}},
		{"nobody could sign", func(a *Approval) { a.People[2].Slack = nil }, []string{"approval.people[2]: carol has neither slack nor sshKeys"}},
		{"people file never read", func(a *Approval) { a.People, a.PeopleFile = nil, "approvers.yaml" },
			[]string{`approval.peopleFile: "approvers.yaml" was never read`}},
		{"too many approvers", func(a *Approval) { a.Approvers = append(keys(MaxApprovers, 3), "carol") },
			[]string{"approval.approvers: 51 approvers exceed the limit of 50"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := example(t)
			tc.change(&p.Approval)
			requireProblems(t, p, tc.want)
		})
	}
}

func TestValidatePeopleAcceptsSaneEdges(t *testing.T) {
	for name, change := range map[string]func(a *Approval){
		"unsigned people allowed":     func(a *Approval) { a.People[2].Slack, a.AllowUnsigned = nil, true },
		"four eyes with a spare":      func(a *Approval) { a.Quorum = 2 },
		"four eyes off":               func(a *Approval) { a.Quorum, a.FourEyes = 3, false },
		"a person in no group":        func(a *Approval) { a.People[2].Groups = nil },
		"a person who never approves": func(a *Approval) { a.Approvers = []string{"@sre-oncall"} },
	} {
		t.Run(name, func(t *testing.T) {
			p := example(t)
			change(&p.Approval)
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// peopleFilePlan writes the example plan to dir with its people moved to the file team/approvers.yaml, and
// returns the plan's path.
func peopleFilePlan(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile("../deploy/plans/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	start, end := strings.Index(src, "  people:\n"), strings.Index(src, "  approvers:")
	if start < 0 || end < start {
		t.Fatal("example.yaml: no approval.people block before approval.approvers")
	}
	var people strings.Builder
	for _, line := range strings.SplitAfter(src[start:end], "\n") {
		people.WriteString(strings.TrimPrefix(line, "  ")) // approval.people → people
	}
	writeFile(t, filepath.Join(dir, "team", "approvers.yaml"), people.String())
	path := filepath.Join(dir, "payments.yaml")
	writeFile(t, path, src[:start]+"  peopleFile: team/approvers.yaml\n"+src[end:])
	return path
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadReadsThePeopleFile(t *testing.T) {
	dir := t.TempDir()
	path := peopleFilePlan(t, dir)
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	inline := example(t)
	if got, want := p.Approval.People, inline.Approval.People; !slices.EqualFunc(got, want, func(a, b Person) bool {
		return a.Name == b.Name && slices.Equal(a.Slack, b.Slack) && slices.Equal(a.SSHKeys, b.SSHKeys) && slices.Equal(a.Groups, b.Groups)
	}) {
		t.Fatalf("people from the file %v, want the example's %v", got, want)
	}
	if p.Approval.PeopleFile != "team/approvers.yaml" {
		t.Fatalf("peopleFile %q: want the name kept as written", p.Approval.PeopleFile)
	}

	// The hash covers the people: a changed key is a different plan.
	people := filepath.Join(dir, "team", "approvers.yaml")
	b, err := os.ReadFile(people)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, people, strings.Replace(string(b), " bob@desktop", "", 1)) // the comment is part of what was written
	changed, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if changed.Hash() == p.Hash() {
		t.Fatal("the people file changed and the plan hash did not")
	}
}

func TestPeopleFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, plan, people string) // edits the plan file and the people file
		want   string
	}{
		{"missing file", func(t *testing.T, plan, people string) { os.Remove(people) },
			"approval.peopleFile: open"},
		{"unknown field", func(t *testing.T, plan, people string) {
			writeFile(t, people, "people:\n  - name: alice\n    email: a@x\n")
		},
			"field email not found"},
		{"no people", func(t *testing.T, plan, people string) { writeFile(t, people, "# nobody yet\n") },
			"lists no people"},
		{"both people and peopleFile", func(t *testing.T, plan, people string) {
			b, _ := os.ReadFile(plan)
			writeFile(t, plan, strings.Replace(string(b), "  peopleFile:", "  people: [{name: dave, slack: [U0DAVE]}]\n  peopleFile:", 1))
		}, "set it or approval.people, not both"},
		{"bad person in the file", func(t *testing.T, plan, people string) {
			b, _ := os.ReadFile(people)
			writeFile(t, people, strings.Replace(string(b), "U0G9QF9C6", "U024BE7LH", 1))
		}, "approval.people[1].slack[0]: U024BE7LH is also approval.people[0]'s (alice)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := peopleFilePlan(t, dir)
			tc.change(t, path, filepath.Join(dir, "team", "approvers.yaml"))
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
	// Decode has no plan file to read the people file next to.
	b, err := os.ReadFile(peopleFilePlan(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(strings.NewReader(string(b))); err == nil || !strings.Contains(err.Error(), "load it with plan.Load") {
		t.Fatalf("Decode with a peopleFile: error %v", err)
	}
}
