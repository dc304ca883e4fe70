package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"
)

// Load reads, decodes, defaults and validates a plan file. approval.peopleFile and regions.*.grpc.caFile are read
// relative to the plan file.
func Load(path string) (Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Plan{}, fmt.Errorf("read plan: %w", err)
	}
	p, err := decode(bytes.NewReader(b), filepath.Dir(path))
	if err != nil {
		return Plan{}, fmt.Errorf("plan %s: %w", path, err)
	}
	return p, nil
}

// Decode decodes one plan strictly (unknown fields are errors), fills defaults and validates it. A plan decoded
// from a reader has no file to find approval.peopleFile next to: it must list approval.people inline.
func Decode(r io.Reader) (Plan, error) {
	return decode(r, "")
}

// decode is Decode with the plan file's directory, dir, where approval.peopleFile is read ("" for none).
func decode(r io.Reader, dir string) (Plan, error) {
	var p Plan
	if err := decodeStrict(r, &p, "plan", "deploy/plans/example.yaml"); err != nil {
		return Plan{}, err
	}
	if err := p.Approval.readPeopleFile(dir); err != nil {
		return Plan{}, err
	}
	if err := p.readCAFiles(dir); err != nil {
		return Plan{}, err
	}
	p.SetDefaults()
	if err := p.Validate(); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// decodeStrict decodes one YAML document into v, refusing unknown fields; what and example name the kind of file
// and the example that documents it, for the error.
func decodeStrict(r io.Reader, v any, what, example string) error {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("the %s is empty: start from %s", what, example)
		}
		return fmt.Errorf("decode: %w (field names are camelCase, see %s)", err, example)
	}
	return nil
}

// peopleList is the content of an approval.peopleFile.
type peopleList struct {
	People []Person `yaml:"people"`
}

// readPeopleFile reads approval.peopleFile, relative to dir, into approval.people.
func (a *Approval) readPeopleFile(dir string) error {
	switch {
	case a.PeopleFile == "":
		return nil
	case len(a.People) > 0:
		return errors.New("approval.peopleFile: set it or approval.people, not both")
	case dir == "":
		return fmt.Errorf("approval.peopleFile: %q is relative to the plan file, and this plan was read without one: "+
			"load it with plan.Load, or list approval.people inline", a.PeopleFile)
	}
	path := a.PeopleFile
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("approval.peopleFile: %w: give a path relative to the plan file", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var list peopleList
	if err := dec.Decode(&list); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("approval.peopleFile %s: decode: %w (write people: with name, slack, sshKeys and groups, "+
			"as approval.people in deploy/plans/example.yaml)", path, err)
	}
	if len(list.People) == 0 {
		return fmt.Errorf("approval.peopleFile %s: lists no people: add them under people:", path)
	}
	a.People = list.People
	return nil
}

// SetDefaults fills the values a plan may leave out.
func (p *Plan) SetDefaults() {
	setDuration(&p.Etcd.AckTimeout, 30*time.Second)
	setDuration(&p.Detection.ProbeInterval, time.Second)
	setDuration(&p.Detection.ProbeTimeout, 2*time.Second)
	if p.Detection.Require == "" {
		p.Detection.Require = RequireAny
	}
	if p.Approval.Mode == "" {
		p.Approval.Mode = ApprovalManual
	}
	if p.Approval.Quorum == 0 {
		p.Approval.Quorum = 1
	}
	setDuration(&p.Approval.Timeout, 15*time.Minute)
	if p.Approval.OnTimeout == "" {
		p.Approval.OnTimeout = OnTimeoutAbort
	}
	if len(p.Traffic.Steps) == 0 {
		p.Traffic.Steps = []int{100}
	}
	if c := p.Traffic.Confirm; c != nil {
		if c.RegionHeader == "" {
			c.RegionHeader = "X-Region"
		}
		if c.Samples == 0 {
			c.Samples = 20
		}
		if c.Tolerance == 0 {
			c.Tolerance = 0.15
		}
		setDuration(&c.Timeout, 30*time.Second)
	}
	if p.Warmup.Concurrency == 0 {
		p.Warmup.Concurrency = 8
	}
	if p.Warmup.BatchSize == 0 {
		p.Warmup.BatchSize = 50
	}
	setDuration(&p.Warmup.Timeout, 5*time.Minute)
	setDuration(&p.Verification.Interval, 5*time.Second)
	if p.Verification.Count == 0 {
		p.Verification.Count = 3
	}
	for _, cs := range [][]Check{p.Traffic.Gate, p.Verification.Checks} {
		for i := range cs {
			if h := cs[i].HTTP; h != nil {
				if h.ExpectStatus == 0 {
					h.ExpectStatus = 200
				}
				if h.Samples == 0 {
					h.Samples = 5
				}
				if h.MinSuccess == 0 {
					h.MinSuccess = 1
				}
				setDuration(&h.Timeout, 2*time.Second)
			}
		}
	}
	if p.Rollback.OnFailure == "" {
		p.Rollback.OnFailure = RollbackAuto
	}
	setDuration(&p.Cooldown, 30*time.Minute)
	setDuration(&p.Failback.HoldDown, 10*time.Minute)
	setDuration(&p.Failback.ProbeInterval, 10*time.Second)
	if p.Watch != nil {
		p.Watch.setDefaults()
	}
}

// Hash identifies this exact plan: approvals name it so an approval of an older plan is refused.
func (p Plan) Hash() string {
	b, err := json.Marshal(p) // encoding/json sorts map keys, so equal plans hash equally
	if err != nil {
		panic(fmt.Sprintf("plan hash: %v", err)) // a Plan is plain data: this cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}
