// Package alerts ships the example alert routes for `starter serve`, embedded so the demo runs from any directory.
package alerts

import "embed"

// Files holds every *.yaml routes file in this folder.
//
//go:embed *.yaml
var Files embed.FS
