// Command sysloggen sends syslog records to a listener over UDP or TCP: the
// lines of a file, or generated RFC 3164 / RFC 5424 lines. The demo, the
// end-to-end tests and the benchmarks use it as the sender.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

func main() {
	udp := flag.String("udp", "", "send over UDP to host:port")
	tcp := flag.String("tcp", "", "send over TCP to host:port")
	file := flag.String("file", "", "send the lines of this file (otherwise generated lines)")
	count := flag.Int("count", 1000, "generated lines to send")
	rate := flag.Int("rate", 0, "lines per second (0 = as fast as possible)")
	octet := flag.Bool("octet", false, "TCP: RFC 6587 octet-counting framing instead of newlines")
	rfc5424 := flag.Bool("rfc5424", false, "generate RFC 5424 instead of RFC 3164")
	prefix := flag.String("prefix", "gen", "text put in every generated message, to tell runs apart")
	flag.Parse()
	if (*udp == "") == (*tcp == "") {
		fmt.Fprintln(os.Stderr, "sysloggen: give exactly one of -udp or -tcp")
		os.Exit(2)
	}
	var lines [][]byte
	if *file != "" {
		b, err := os.ReadFile(*file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sysloggen:", err)
			os.Exit(1)
		}
		for _, l := range bytes.Split(b, []byte("\n")) {
			if l = bytes.TrimRight(l, "\r"); len(l) > 0 {
				lines = append(lines, l)
			}
		}
	} else {
		host, _ := os.Hostname()
		for i := 0; i < *count; i++ {
			lines = append(lines, generate(i, host, *prefix, *rfc5424))
		}
	}
	var err error
	if *udp != "" {
		err = sendUDP(*udp, lines, *rate)
	} else {
		err = sendTCP(*tcp, lines, *rate, *octet)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sysloggen:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "sysloggen: sent %d lines\n", len(lines))
}

var users = []string{"root", "admin", "oracle", "deploy", "test"}

func generate(i int, host, prefix string, ietf bool) []byte {
	ip := fmt.Sprintf("203.0.113.%d", i%250+1)
	user := users[i%len(users)]
	msg := fmt.Sprintf("Failed password for invalid user %s from %s port %d ssh2 [%s-%d]", user, ip, 40000+i%20000, prefix, i)
	ts := time.Now()
	if ietf {
		return []byte(fmt.Sprintf("<38>1 %s %s sshd %d - - %s", ts.UTC().Format(time.RFC3339Nano), host, 1000+i%3000, msg))
	}
	return []byte(fmt.Sprintf("<38>%s %s sshd[%d]: %s", ts.Format(time.Stamp), host, 1000+i%3000, msg))
}

func pace(rate int) func(i int) {
	if rate <= 0 {
		return func(int) {}
	}
	start := time.Now()
	return func(i int) {
		want := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
		if d := time.Until(want); d > 0 {
			time.Sleep(d)
		}
	}
}

func sendUDP(addr string, lines [][]byte, rate int) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	wait := pace(rate)
	for i, l := range lines {
		wait(i)
		if _, err := c.Write(l); err != nil {
			return fmt.Errorf("line %d: %w", i, err)
		}
		if rate <= 0 && i%64 == 63 {
			// Unpaced UDP would overrun the receiver's socket buffer at once.
			time.Sleep(200 * time.Microsecond)
		}
	}
	return nil
}

func sendTCP(addr string, lines [][]byte, rate int, octet bool) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(c, 64<<10)
	wait := pace(rate)
	for i, l := range lines {
		wait(i)
		if octet {
			w.WriteString(strconv.Itoa(len(l)))
			w.WriteByte(' ')
			w.Write(l)
		} else {
			w.Write(l)
			w.WriteByte('\n')
		}
		if rate > 0 {
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	// Close the write side and wait for the agent to close, so every line has
	// been read by the time this returns.
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
		_ = tc.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, _ = bufio.NewReader(tc).ReadByte()
	}
	return c.Close()
}
