package clienttls

import (
	"errors"
	"net"
	"reflect"
)

// remoteAlert finds the TLS alert a server sent in err. crypto/tls reports it on TCP connections as a *net.OpError
// with Op "remote error" around its unexported alert type, a uint8 holding the alert code (the exported
// tls.AlertError is only used with QUIC), so the code is read from that value's kind rather than its text.
func remoteAlert(err error) (code uint8, ok bool) {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return 0, false
	}
	v := reflect.ValueOf(op.Err)
	if v.Kind() != reflect.Uint8 {
		return 0, false
	}
	return uint8(v.Uint()), true
}
