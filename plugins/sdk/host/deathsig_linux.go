package host

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill the plugin when the agent dies, even
// by SIGKILL, so no plugin process outlives it.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
