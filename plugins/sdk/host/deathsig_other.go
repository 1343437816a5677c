//go:build !linux

package host

import "os/exec"

// setDeathSignal has no portable equivalent outside Linux; the plugin then
// notices the agent is gone when its connection closes.
func setDeathSignal(*exec.Cmd) {}
