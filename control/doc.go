// Package control is how the rest of the code talks to the failover workflows in Temporal: start one (the CLI),
// start or join one from an alert (the front door), read its status, send the approve or reject decision (the CLI
// and Slack), and make a worker build current (the worker's first deploy, `starter workers promote`). Most
// functions take the one Temporal client method they need, as a one-method interface that client.Client
// satisfies, so callers pass their client and tests pass a small fake.
package control
