// Package plans ships the example failover plans, embedded so the demo (testsuite/devstack) runs from any directory.
package plans

import "embed"

// Files holds every *.yaml plan in this folder.
//
//go:embed *.yaml
var Files embed.FS
