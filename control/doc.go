// Package control is how the rest of the code talks to the failover workflows in Temporal: start one (the CLI),
// start or join one from an alert (the front door), read its status, and send the approve or reject decision
// (the CLI and Slack). Each function takes the one Temporal client method it needs, as a one-method interface
// that client.Client satisfies, so callers pass their client and tests pass a small fake.
package control
