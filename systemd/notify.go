// Package systemd owns Vigil's side of the service manager protocol:
// readiness and stopping notifications over $NOTIFY_SOCKET (sd_notify), so
// the units in this directory can be Type=notify. It never fails a service:
// without a notify socket every call is a no-op.
package systemd

import (
	"fmt"
	"net"
	"os"
)

// Notify sends state (for example "READY=1") to the service manager. It
// returns false without error when not running under systemd.
func Notify(state string) (bool, error) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return false, nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:] // abstract socket
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("sd_notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("sd_notify: %w", err)
	}
	return true, nil
}

// Ready reports readiness with a status line.
func Ready(status string) (bool, error) { return Notify("READY=1\nSTATUS=" + status) }

// Stopping reports that shutdown began.
func Stopping() (bool, error) { return Notify("STOPPING=1") }
