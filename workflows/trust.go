package workflows

import (
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/failover/failover/proof"
)

// Trust is what a worker trusts beyond the plan: the public keys of the Slack front doors, which sign the
// decisions of the people who click in Slack. The plan names people and their own SSH keys; it cannot name the
// front door's key, or whoever edits a plan could pass as Slack.
type Trust struct {
	// FrontDoorKeys are the front doors' public keys (several while a key is rotated).
	FrontDoorKeys []ssh.PublicKey
}

// workerTrust is the Trust the worker in this process was registered with. The update validator reads it, which
// is safe although it is worker config and not workflow state: Temporal runs validators only when an Update
// arrives, never on replay, and a validator writes nothing to history. One process runs one worker config.
var workerTrust struct {
	mu sync.Mutex
	t  Trust
}

// setTrust installs the worker's Trust for the update validators.
func setTrust(t Trust) {
	workerTrust.mu.Lock()
	defer workerTrust.mu.Unlock()
	workerTrust.t = t
}

// frontDoorKey reports whether key is one of the front-door keys the worker trusts.
func frontDoorKey(key ssh.PublicKey) bool {
	workerTrust.mu.Lock()
	defer workerTrust.mu.Unlock()
	return proof.TrustKeys(workerTrust.t.FrontDoorKeys...)(key)
}
