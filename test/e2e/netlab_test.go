package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// netLab is a small network of hosts made of Linux network namespaces: each
// host has its own namespace with one interface on a bridge, and the bridge
// lives in a namespace of its own ("the switch"), so the host's firewall
// rules (Docker's among them) never see the lab's traffic. The test process
// reaches every host through one more link from the root namespace to the
// switch. Cutting a host's link is setting its switch port down, from
// outside the host: the host's processes keep running and keep their own
// addresses, they just reach nobody.
type netLab struct {
	t      *testing.T
	tag    string   // unique per lab, part of every name
	hosts  []string // namespace names
	ips    []string // host addresses
	subnet string   // 10.213.N
}

// needNetLab skips the test when namespaces cannot be made here.
func needNetLab(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespace tests need root (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("network namespace tests need ip from iproute2 (apt-get install iproute2)")
	}
}

// newNetLab makes n hosts. Everything is removed when the test ends.
func newNetLab(t *testing.T, n int) *netLab {
	t.Helper()
	needNetLab(t)
	pid := os.Getpid()
	l := &netLab{t: t, tag: fmt.Sprintf("%04x", pid&0xffff), subnet: fmt.Sprintf("10.213.%d", pid%250)}
	sw := l.switchNS()
	t.Cleanup(l.destroy)
	l.run("ip", "netns", "add", sw)
	l.run("ip", "-n", sw, "link", "add", "br0", "type", "bridge")
	l.run("ip", "-n", sw, "link", "set", "br0", "up")
	l.run("ip", "-n", sw, "link", "set", "lo", "up")
	// The root namespace's link into the switch.
	root := "vgr" + l.tag
	l.run("ip", "link", "add", root, "type", "veth", "peer", "name", "up0", "netns", sw)
	l.run("ip", "-n", sw, "link", "set", "up0", "master", "br0", "up")
	l.run("ip", "addr", "add", l.subnet+".254/24", "dev", root)
	l.run("ip", "link", "set", root, "up")
	for i := 0; i < n; i++ {
		ns := fmt.Sprintf("vigil-e2e-%s-h%d", l.tag, i+1)
		ip := fmt.Sprintf("%s.%d", l.subnet, i+1)
		l.run("ip", "netns", "add", ns)
		l.hosts = append(l.hosts, ns)
		l.ips = append(l.ips, ip)
		l.run("ip", "-n", sw, "link", "add", l.port(i), "type", "veth", "peer", "name", "eth0", "netns", ns)
		l.run("ip", "-n", sw, "link", "set", l.port(i), "master", "br0", "up")
		l.run("ip", "-n", ns, "addr", "add", ip+"/24", "dev", "eth0")
		l.run("ip", "-n", ns, "link", "set", "eth0", "up")
		l.run("ip", "-n", ns, "link", "set", "lo", "up")
	}
	return l
}

func (l *netLab) switchNS() string { return "vigil-e2e-" + l.tag + "-sw" }

// port is the switch-side interface of host i.
func (l *netLab) port(i int) string { return fmt.Sprintf("p%d", i+1) }

// exec is the command prefix that runs a program on host i.
func (l *netLab) exec(i int) []string { return []string{"ip", "netns", "exec", l.hosts[i]} }

// cut takes host i off the network.
func (l *netLab) cut(i int) { l.run("ip", "-n", l.switchNS(), "link", "set", l.port(i), "down") }

// heal puts host i back.
func (l *netLab) heal(i int) { l.run("ip", "-n", l.switchNS(), "link", "set", l.port(i), "up") }

func (l *netLab) run(args ...string) {
	l.t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		l.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (l *netLab) destroy() {
	// Deleting a namespace removes its interfaces, and the veth pairs with
	// them; the root link goes with the switch's end of it.
	for _, ns := range append(l.hosts, l.switchNS()) {
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
	_ = exec.Command("ip", "link", "del", "vgr"+l.tag).Run()
}
