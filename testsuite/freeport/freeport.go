// Package freeport finds free loopback TCP ports for servers that need their port before they listen.
package freeport

import (
	"fmt"
	"net"
)

// Get returns port when it is non-zero, else a loopback port that was free a moment ago.
func Get(port int) (int, error) {
	if port != 0 {
		return port, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Check fails with a clear message when a fixed port is already taken.
func Check(port int, what string) error {
	if port == 0 {
		return nil
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return fmt.Errorf("%s port %d is in use: stop what holds it or pick another port (0 = any free port)", what, port)
	}
	return l.Close()
}
