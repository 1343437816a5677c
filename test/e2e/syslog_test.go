package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestE2E_LoggerRFC5424TCPAndRFC3164UDP sends with util-linux logger, a real
// syslog client, and finds the events at the hub with the right fields.
func TestE2E_LoggerRFC5424TCPAndRFC3164UDP(t *testing.T) {
	needBinaries(t)
	logger, err := exec.LookPath("logger")
	if err != nil {
		t.Skip("logger (util-linux) not installed: test skipped; .ci/run installs it")
	}
	h := startHub(t)
	a := startAgent(t, h, agentOpts{branch: "city-3"})
	tcpHost, tcpPort, _ := strings.Cut(a.tcp, ":")
	udpHost, udpPort, _ := strings.Cut(a.udp, ":")
	mark := fmt.Sprintf("e2e-%d", time.Now().UnixNano())
	run := func(args ...string) {
		if out, err := exec.Command(logger, args...).CombinedOutput(); err != nil {
			t.Fatalf("logger %v: %v\n%s", args, err, out)
		}
	}
	run("--rfc5424", "-T", "--id=4242", "-n", tcpHost, "-P", tcpPort, "-t", "sshd", "-p", "auth.warning",
		"--sd-id", "origin@32473", "--sd-param", `ip="10.1.2.3"`, "--msgid", "LOGIN", "Failed password for root from 10.9.9.9 port 22 ssh2 "+mark)
	run("--rfc3164", "-d", "-n", udpHost, "-P", udpPort, "-t", "kernel", "-p", "local3.err", "IN=eth0 SRC=192.0.2.7 DST=10.0.0.1 "+mark)

	var ev5424, ev3164 map[string]any
	waitFor(t, 20*time.Second, "both logger events at the hub", func() bool {
		for _, e := range h.events(a.id) {
			switch e["input.type"] {
			case "tcp":
				ev5424 = e
			case "udp":
				ev3164 = e
			}
		}
		return ev5424 != nil && ev3164 != nil
	})
	want5424 := map[string]any{
		"process.name": "sshd", "log.syslog.appname": "sshd", "log.syslog.msgid": "LOGIN",
		"log.syslog.facility.code": "4", "log.syslog.severity.code": "4", "log.syslog.version": "1",
		"log.syslog.structured_data.origin@32473.ip": "10.1.2.3",
		"message":      "Failed password for root from 10.9.9.9 port 22 ssh2 " + mark,
		"vigil.branch": "city-3", "agent.id": a.id, "process.pid": "4242",
	}
	want3164 := map[string]any{
		"process.name": "kernel", "log.syslog.facility.code": "19", "log.syslog.severity.code": "3",
		"message": "IN=eth0 SRC=192.0.2.7 DST=10.0.0.1 " + mark, "vigil.branch": "city-3",
	}
	for name, c := range map[string]struct {
		got, want map[string]any
	}{"rfc5424/tcp": {ev5424, want5424}, "rfc3164/udp": {ev3164, want3164}} {
		for k, v := range c.want {
			if fmt.Sprint(c.got[k]) != fmt.Sprint(v) {
				t.Errorf("%s: %s = %v, want %v (event %v)", name, k, c.got[k], v, c.got)
			}
		}
		for _, k := range []string{"@timestamp", "host.name", "event.original", "event.created"} {
			if c.got[k] == nil || c.got[k] == "" {
				t.Errorf("%s: %s missing", name, k)
			}
		}
		if !strings.Contains(fmt.Sprint(c.got["event.original"]), mark) {
			t.Errorf("%s: event.original does not hold the raw line: %v", name, c.got["event.original"])
		}
	}
}

// TestE2E_OctetCountingAndBadFrames checks RFC 6587 octet counting, that an
// over-long line is cut and tagged, and that a malformed frame closes only
// its own connection.
func TestE2E_OctetCountingAndBadFrames(t *testing.T) {
	h := startHub(t)
	a := startAgent(t, h, agentOpts{extraYAML: ""})
	sysloggen(t, "-tcp", a.tcp, "-octet", "-count", "300", "-prefix", "oct")
	sysloggen(t, "-tcp", a.tcp, "-count", "200", "-prefix", "nl")
	long := fmt.Sprintf("<13>Dec  2 10:00:00 host app: [long-0] %s", strings.Repeat("x", 70000))
	sendRaw(t, a.tcp, long+"\n")
	sendRaw(t, a.tcp, "999 <13>frame cut short") // the stream ends inside the frame
	sysloggen(t, "-tcp", a.tcp, "-count", "10", "-prefix", "after")
	a.drained(20 * time.Second)
	evs := h.events(a.id)
	exactlyOnce(t, evs, "oct", 300)
	exactlyOnce(t, evs, "nl", 200)
	exactlyOnce(t, evs, "after", 10)
	var longEv map[string]any
	for _, e := range evs {
		if strings.Contains(fmt.Sprint(e["event.original"]), "[long-0]") {
			longEv = e
		}
	}
	if longEv == nil {
		t.Fatal("over-long line not stored")
	}
	if n := len(fmt.Sprint(longEv["event.original"])); n != 64<<10 {
		t.Errorf("over-long line kept %d bytes, want exactly %d", n, 64<<10)
	}
	if fmt.Sprint(longEv["tags"]) != "[truncated]" {
		t.Errorf("tags = %v, want [truncated]", longEv["tags"])
	}
	st := a.statusNow()
	if got := st.Inputs["tcp"]["dropped_invalid_frame"]; got != 1 {
		t.Errorf("dropped_invalid_frame = %d, want 1", got)
	}
	if got := st.Inputs["tcp"]["truncated_total"]; got != 1 {
		t.Errorf("truncated_total = %d, want 1", got)
	}
}
