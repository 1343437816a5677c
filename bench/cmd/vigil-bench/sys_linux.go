package main

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill cmd when the bench dies, even by
// SIGKILL, so no child outlives a run.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// fsKind names the file system holding dir, warning about memory-backed ones
// on which an fsync costs nothing.
func fsKind(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "file system unknown: " + err.Error()
	}
	switch st.Type {
	case 0x01021994:
		return "tmpfs: WARNING, fsync is free in memory; give -tmp on a real disk"
	case 0xEF53:
		return "ext2/3/4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x794c7630:
		return "overlayfs"
	}
	return "file system type unknown"
}
