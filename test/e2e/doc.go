// Package e2e holds Vigil's multi-process end-to-end tests: they build the
// real vigil-hub and vigil-agent binaries, run them as separate processes on
// loopback addresses, kill them with SIGKILL, and check with an independent
// checker (the hub's API, not the code under test) that every acknowledged
// line arrived exactly once. Test names start with TestE2E (docs/testing.md).
package e2e
