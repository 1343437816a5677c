package systemd

import (
	"net"
	"path/filepath"
	"testing"
)

func TestNotify_SendsToSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	sent, err := Ready("buffer open")
	if err != nil || !sent {
		t.Fatalf("Ready: sent=%v err=%v", sent, err)
	}
	buf := make([]byte, 256)
	n, err := ln.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); got != "READY=1\nSTATUS=buffer open" {
		t.Fatalf("got %q", got)
	}
}

func TestNotify_NoSocketIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if sent, err := Ready("x"); sent || err != nil {
		t.Fatalf("without NOTIFY_SOCKET: sent=%v err=%v", sent, err)
	}
}
