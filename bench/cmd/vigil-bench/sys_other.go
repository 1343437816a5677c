//go:build !linux

package main

import "os/exec"

func setDeathSignal(*exec.Cmd) {}

func fsKind(string) string { return "file system type unknown" }
