// Package ciscoasa is the built-in parser for Cisco ASA, PIX, FWSM and
// Firepower Threat Defense syslog messages (component id "parser.cisco_asa"):
//
//	[SYSLOG HEADER ]%ASA-6-302013: Built inbound TCP connection 7 for outside:198.51.100.7/40001 (198.51.100.7/40001) to inside:10.0.0.5/443 (203.0.113.5/443)
//
// It owns the translation of one such record into an sdk.Event and nothing
// else. It never panics, never retains raw or ev, and keeps the raw record in
// ev.Original whatever the outcome. Every value is a substring of the record
// or a constant; a record costs the ev.Original string and a copy of any
// syslog header.
//
// # Accepted forms
//
// A "%ASA-", "%PIX-", "%FWSM-" or "%FTD-" tag with a severity digit and a
// numeric message id ("%ASA-6-302013", the colon after it optional), at the
// start of the record or after a blank, '>' or ':'. Anything before it is read
// as a syslog header by package syslog: "<PRI>", BSD or RFC 3339 timestamps
// with or without the year, the host name and a lone ":" ("fw01 : %ASA-...")
// all parse. Text there that is not a header is ignored.
//
// # Fields set
//
//   - From a syslog header in front: @timestamp, host.name, process.name,
//     process.pid, log.syslog.priority, log.syslog.facility.code,
//     log.syslog.severity.code.
//   - Always: observer.vendor "Cisco"; observer.product "ASA", "PIX", "FWSM"
//     or "FTD"; event.code (message id, "302013"); event.severity (int, the
//     severity digit); log.level (Cisco's name of the digit: emergencies,
//     alerts, critical, errors, warnings, notifications, informational,
//     debugging); message (the text after the tag).
//   - Endpoints, wherever the message id below names them: source.ip,
//     destination.ip (only valid addresses: "X.X.X.X" sets nothing),
//     source.port, destination.port (int; the service names the ASA prints
//     for well-known ports, such as ssh or https, are translated),
//     network.transport (tcp, udp, icmp, ...),
//     observer.ingress.interface.name and observer.egress.interface.name (the
//     interfaces of the source and of the destination).
//   - 302013, 302015 (Built inbound/outbound TCP/UDP connection) and 302020
//     (ICMP): event.action "connection-built", network.direction "inbound"
//     or "outbound"; for outbound connections the "to" side is the source.
//     source.nat.ip, source.nat.port, destination.nat.ip,
//     destination.nat.port from the mapped addresses in parentheses when they
//     differ from the real ones.
//   - 302014, 302016 (Teardown) and 302021: event.action
//     "connection-teardown", event.duration (int, nanoseconds), network.bytes
//     (int), event.reason (teardown reason, as "TCP FINs").
//   - 305011, 305012 (xlate): event.action "translation-built" or
//     "translation-teardown"; the "to" address is source.nat.ip and
//     source.nat.port.
//   - Deny and permit messages (106001, 106002, 106006, 106007, 106010,
//     106011, 106014, 106015, 106021, 106023, 106100, 710002, 710003,
//     710005): event.action "deny" or "permit"; rule.name (the access-group,
//     access-list or outbound list named); the interface of "on interface X"
//     as observer.ingress.interface.name. 710001 (access requested) sets the
//     endpoints only.
//   - IDS messages (4000nn): event.action "ids-alert", rule.id (the
//     signature number), rule.name (the signature text).
//   - AAA and login (113004, 113005, 113008, 113012, 113015, 605004,
//     605005, 611101, 611102): event.action "user-authentication" (113xxx,
//     611xxx) or "login" (605xxx); event.outcome "success" or "failure";
//     user.name (unless masked as "***" or empty); source.ip ("user IP = ",
//     "IP address: " or the "from" address).
//   - FTD connection events (430001..430005): the SrcIP, DstIP, SrcPort,
//     DstPort, Protocol, IngressInterface, EgressInterface,
//     AccessControlRuleName (rule.name), AccessControlRuleAction
//     (event.action, lower case) and User (user.name) values.
//
// # Errors
//
// A record without the tag returns an error wrapping sdk.ErrNotMatched and
// sets no field. Every record with the tag parses; a message that is not of
// a known shape sets only the fields listed under "Always".
package ciscoasa

import (
	"fmt"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/ecsfields"
	"github.com/vigil-sec/vigil/plugins/builtin/internal/sysheader"
	"github.com/vigil-sec/vigil/plugins/builtin/internal/syslogcore"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// ID is the component id of this parser.
const ID = "parser.cisco_asa"

var errNotMatched = fmt.Errorf("cisco_asa: no %%ASA-n-nnnnnn tag: %w", sdk.ErrNotMatched)

// Options configures a Parser. The zero value is valid.
type Options struct {
	// Location is the time zone of syslog timestamps without an offset.
	// Defaults to UTC.
	Location *time.Location
	// Now is the reference clock used to infer a missing year. Defaults to
	// time.Now.
	Now func() time.Time
}

// Parser parses Cisco ASA messages. A Parser is used by one goroutine at a
// time.
type Parser struct {
	hdr sysheader.Header
}

var _ sdk.Parser = (*Parser)(nil)

// New returns a Parser; zero fields of opts take their defaults.
func New(opts Options) *Parser {
	return &Parser{hdr: sysheader.New(opts.Location, opts.Now)}
}

// ID returns "parser.cisco_asa".
func (p *Parser) ID() string { return ID }

var levels = [8]string{"emergencies", "alerts", "critical", "errors", "warnings", "notifications", "informational", "debugging"}

// tag is the parsed "%ASA-6-302013:" tag.
type tag struct {
	at, msg  int // start of the tag; start of the message text
	product  string
	severity int
	code     string
}

// Parse fills ev from one Cisco ASA message. See the package documentation.
func (p *Parser) Parse(raw []byte, ev *sdk.Event) error {
	s := string(raw)
	ev.Original = s
	t, ok := locate(s)
	if !ok {
		return errNotMatched
	}
	if t.at > 0 {
		p.hdr.Parse(raw[:t.at], ev)
	}
	ev.SetStr("observer.vendor", "Cisco")
	ev.SetStr("observer.product", t.product)
	ev.SetStr("event.code", t.code)
	ev.SetInt("event.severity", int64(t.severity))
	ev.SetStr("log.level", levels[t.severity])
	msg := syslogcore.TrimRight(s[t.msg:])
	ev.SetStr("message", msg)
	describe(t.code, msg, ev)
	return nil
}

// locate finds the tag.
func locate(s string) (tag, bool) {
	for off := 0; off < len(s); {
		k := strings.IndexByte(s[off:], '%')
		if k < 0 {
			break
		}
		k += off
		off = k + 1
		if k > 0 && s[k-1] != ' ' && s[k-1] != '\t' && s[k-1] != '>' && s[k-1] != ':' {
			continue
		}
		var t tag
		j := k + 1
		for _, prod := range [...]string{"ASA", "PIX", "FWSM", "FTD"} {
			if strings.HasPrefix(s[j:], prod) && j+len(prod) < len(s) && s[j+len(prod)] == '-' {
				t.product = prod
				break
			}
		}
		if t.product == "" {
			continue
		}
		j += len(t.product) + 1
		if j+2 >= len(s) || !syslogcore.IsDigit(s[j]) || s[j+1] != '-' || s[j] > '7' {
			continue
		}
		t.severity = int(s[j] - '0')
		j += 2
		c := j
		for c < len(s) && syslogcore.IsDigit(s[c]) {
			c++
		}
		if c == j || c-j > 8 {
			continue
		}
		t.code = s[j:c]
		if c < len(s) && s[c] == ':' {
			c++
		}
		if c < len(s) && !syslogcore.IsSpace(s[c]) {
			continue
		}
		t.at, t.msg = k, syslogcore.SkipSpace(s, c)
		return t, true
	}
	return tag{}, false
}

// describe sets the fields that depend on the message id.
func describe(code, msg string, ev *sdk.Event) {
	switch code {
	case "302013", "302015", "302020":
		connection(msg, ev, true)
	case "302014", "302016", "302021":
		connection(msg, ev, false)
	case "305011", "305012":
		translation(code == "305011", msg, ev)
	case "106001", "106002", "106006", "106007", "106010", "106011", "106014", "106015", "106021", "106023", "710003", "710005":
		ev.SetStr("event.action", "deny")
		filter(msg, ev)
	case "710002":
		ev.SetStr("event.action", "permit")
		filter(msg, ev)
	case "710001":
		filter(msg, ev)
	case "106100":
		accessList(msg, ev)
	case "113004", "113005", "113008", "113012", "113015":
		aaa(msg, ev)
	case "605004", "605005":
		login(code == "605005", msg, ev)
	case "611101", "611102":
		vpnUser(code == "611101", msg, ev)
	case "430001", "430002", "430003", "430004", "430005":
		ftdConnection(msg, ev)
	default:
		if strings.HasPrefix(code, "4000") && len(code) == 6 {
			ids(msg, ev)
		}
	}
}

// words splits msg at blanks into at most len(w) words, returning how many.
func words(msg string, w []string) int {
	n := 0
	for i := 0; n < len(w); {
		i = syslogcore.SkipSpace(msg, i)
		if i >= len(msg) {
			break
		}
		e := syslogcore.TokenEnd(msg, i)
		w[n] = msg[i:e]
		n++
		i = e
	}
	return n
}

// after returns the word following the first word equal to key, or "".
func after(w []string, key string) (string, int) {
	for i := 0; i+1 < len(w); i++ {
		if w[i] == key {
			return w[i+1], i + 1
		}
	}
	return "", -1
}

// endpoint splits "iface:addr/port", "addr/port", "iface:addr" or "addr"
// (ASA writes IPv6 addresses with colons, so the interface is what precedes
// the first colon only when the rest is an address).
func endpoint(tok string) (iface, ip, port string) {
	tok = strings.TrimRight(tok, ",;")
	addr := tok
	if k := strings.LastIndexByte(tok, '/'); k >= 0 {
		addr, port = tok[:k], tok[k+1:]
	}
	if ecsfields.IsIP(addr) {
		return "", addr, port
	}
	if k := strings.IndexByte(addr, ':'); k > 0 {
		iface = addr[:k]
		if ecsfields.IsIP(addr[k+1:]) {
			ip = addr[k+1:]
		}
	}
	return iface, ip, port
}

// side is one end of a connection.
type side struct{ iface, ip, port string }

func parseSide(tok string) side {
	i, a, p := endpoint(tok)
	return side{i, a, p}
}

// setEnds stores the source and destination ends.
func setEnds(ev *sdk.Event, src, dst side) {
	setIP(ev, "source.ip", src.ip)
	setPort(ev, "source.port", src.port)
	setIP(ev, "destination.ip", dst.ip)
	setPort(ev, "destination.port", dst.port)
	ecsfields.SetStr(ev, "observer.ingress.interface.name", src.iface)
	ecsfields.SetStr(ev, "observer.egress.interface.name", dst.iface)
}

// setNAT stores a mapped address "(addr/port)" when it differs from real.
func setNAT(ev *sdk.Event, ipKey, portKey, mapped string, real side) {
	if len(mapped) < 3 || mapped[0] != '(' || mapped[len(mapped)-1] != ')' {
		return
	}
	_, ip, port := endpoint(mapped[1 : len(mapped)-1])
	if ip == "" || ip == real.ip && port == real.port {
		return
	}
	setIP(ev, ipKey, ip)
	setPort(ev, portKey, port)
}

func setIP(ev *sdk.Event, key, v string) {
	if ecsfields.IsIP(v) {
		ecsfields.SetStr(ev, key, v)
	}
}

func setPort(ev *sdk.Event, key, v string) {
	if n, ok := port(v); ok {
		ecsfields.SetInt(ev, key, n)
	}
}

// connection reads "Built {inbound|outbound} PROTO connection ID for A
// [(mapped)] to B [(mapped)]" and "Teardown PROTO connection ID for A to B
// duration H:MM:SS bytes N [reason]", and the ICMP forms with faddr, gaddr
// and laddr.
func connection(msg string, ev *sdk.Event, built bool) {
	var buf [24]string
	w := buf[:words(msg, buf[:])]
	ev.SetStr("event.action", pick(built, "connection-built", "connection-teardown"))
	dir := ""
	if built && len(w) > 1 && (w[1] == "inbound" || w[1] == "outbound") {
		dir = w[1]
		ev.SetStr("network.direction", dir)
	}
	for _, x := range w[:min(len(w), 4)] {
		if t := transport(x); t != "" {
			ev.SetStr("network.transport", t)
			break
		}
	}
	var src, dst side
	var srcMapped, dstMapped string
	if f, i := after(w, "faddr"); i >= 0 {
		// ICMP: faddr is the foreign (outside) end, laddr the local one.
		l, _ := after(w, "laddr")
		src, dst = parseSide(f), parseSide(l)
		if dir == "outbound" {
			src, dst = dst, src
		}
	} else if a, i := after(w, "for"); i >= 0 {
		if i+1 < len(w) && strings.HasPrefix(w[i+1], "(") {
			srcMapped = w[i+1]
		}
		b, j := after(w[i:], "to")
		src, dst = parseSide(a), parseSide(b)
		if j >= 0 && i+j+1 < len(w) && strings.HasPrefix(w[i+j+1], "(") {
			dstMapped = w[i+j+1]
		}
		if dir == "outbound" {
			src, dst = dst, src
			srcMapped, dstMapped = dstMapped, srcMapped
		}
	}
	setEnds(ev, src, dst)
	setNAT(ev, "source.nat.ip", "source.nat.port", srcMapped, src)
	setNAT(ev, "destination.nat.ip", "destination.nat.port", dstMapped, dst)
	if built {
		return
	}
	teardownTail(msg, w, ev)
}

// teardownTail reads "duration H:MM:SS bytes N reason".
func teardownTail(msg string, w []string, ev *sdk.Event) {
	if d, i := after(w, "duration"); i >= 0 {
		if ns, ok := duration(d); ok {
			ev.SetInt("event.duration", ns)
		}
	}
	b, i := after(w, "bytes")
	if i < 0 {
		return
	}
	if n, ok := syslogcore.ParseUint(b); ok {
		ev.SetInt("network.bytes", n)
	}
	// The reason is the rest of the message after the byte count, without a
	// trailing "(user)".
	k := strings.Index(msg, " bytes "+b)
	if k < 0 {
		return
	}
	reason := strings.TrimSpace(msg[k+len(" bytes ")+len(b):])
	if strings.HasSuffix(reason, ")") {
		if o := strings.LastIndex(reason, " ("); o >= 0 {
			reason = reason[:o]
		} else if reason[0] == '(' {
			reason = ""
		}
	}
	ecsfields.SetStr(ev, "event.reason", strings.TrimSpace(reason))
}

// duration parses "H:MM:SS" (hours may have more digits) into nanoseconds.
func duration(s string) (int64, bool) {
	s = strings.TrimRight(s, ".,")
	c1 := strings.IndexByte(s, ':')
	if c1 < 1 || len(s) != c1+6 || s[c1+3] != ':' {
		return 0, false
	}
	h, ok := syslogcore.ParseUint(s[:c1])
	m, ok2 := syslogcore.Num2(s, c1+1)
	sec, ok3 := syslogcore.Num2(s, c1+4)
	if !ok || !ok2 || !ok3 || m > 59 || sec > 59 || h > 1e6 {
		return 0, false
	}
	return (h*3600 + int64(m)*60 + int64(sec)) * int64(time.Second), true
}

// translation reads "{Built|Teardown} {dynamic|static} PROTO translation
// from IFACE:IP/PORT to IFACE:IP/PORT [duration H:MM:SS]".
func translation(built bool, msg string, ev *sdk.Event) {
	var buf [16]string
	w := buf[:words(msg, buf[:])]
	ev.SetStr("event.action", pick(built, "translation-built", "translation-teardown"))
	for _, x := range w[:min(len(w), 4)] {
		if t := transport(x); t != "" {
			ev.SetStr("network.transport", t)
			break
		}
	}
	from, i := after(w, "from")
	if i < 0 {
		return
	}
	src := parseSide(from)
	setIP(ev, "source.ip", src.ip)
	setPort(ev, "source.port", src.port)
	ecsfields.SetStr(ev, "observer.ingress.interface.name", src.iface)
	if to, j := after(w[i:], "to"); j >= 0 {
		nat := parseSide(to)
		setIP(ev, "source.nat.ip", nat.ip)
		setPort(ev, "source.nat.port", nat.port)
		ecsfields.SetStr(ev, "observer.egress.interface.name", nat.iface)
	}
	if d, j := after(w, "duration"); j >= 0 {
		if ns, ok := duration(d); ok {
			ev.SetInt("event.duration", ns)
		}
	}
}

// filter reads the endpoints of the deny and permit messages: "src A dst B",
// "from A to B" or "src A dest B", the protocol before them, the interface
// of "on interface X", and the rule of 'access-group "X"' or "outbound list
// X".
func filter(msg string, ev *sdk.Event) {
	var buf [32]string
	w := buf[:words(msg, buf[:])]
	first := len(w)
	var src, dst side
	if a, i := after(w, "src"); i >= 0 {
		first = i - 1
		src = parseSide(a)
		if b, j := after(w[i:], "dst"); j >= 0 {
			dst = parseSide(b)
		} else if b, j := after(w[i:], "dest"); j >= 0 {
			dst = parseSide(b)
		}
	} else if a, i := after(w, "from"); i >= 0 {
		first = i - 1
		src = parseSide(a)
		if b, j := after(w[i:], "to"); j >= 0 {
			dst = parseSide(b)
		}
	}
	for _, x := range w[:first] {
		if t := transport(x); t != "" {
			ev.SetStr("network.transport", t)
			break
		}
	}
	if iface, i := after(w, "interface"); i >= 0 && i >= 2 && w[i-2] == "on" && src.iface == "" {
		src.iface = iface
	}
	setEnds(ev, src, dst)
	if g, i := after(w, "access-group"); i >= 0 {
		ecsfields.SetStr(ev, "rule.name", strings.Trim(g, `"`))
	} else if l, i := after(w, "list"); i >= 2 && w[i-2] == "outbound" {
		ecsfields.SetStr(ev, "rule.name", l)
	}
}

// accessList reads 106100: "access-list ACL {permitted|denied|est-allowed}
// PROTO IFACE/IP(PORT) -> IFACE/IP(PORT) hit-cnt N ...".
func accessList(msg string, ev *sdk.Event) {
	var buf [12]string
	w := buf[:words(msg, buf[:])]
	if len(w) < 7 || w[0] != "access-list" || w[5] != "->" {
		return
	}
	switch w[2] {
	case "permitted", "est-allowed":
		ev.SetStr("event.action", "permit")
	case "denied":
		ev.SetStr("event.action", "deny")
	}
	ecsfields.SetStr(ev, "rule.name", w[1])
	if t := transport(w[3]); t != "" {
		ev.SetStr("network.transport", t)
	}
	setEnds(ev, aclSide(w[4]), aclSide(w[6]))
}

// aclSide splits "IFACE/IP(PORT)".
func aclSide(tok string) side {
	var s side
	k := strings.IndexByte(tok, '/')
	if k < 0 {
		return s
	}
	s.iface, tok = tok[:k], tok[k+1:]
	if o := strings.IndexByte(tok, '('); o >= 0 && strings.HasSuffix(tok, ")") {
		s.port = tok[o+1 : len(tok)-1]
		tok = tok[:o]
	}
	s.ip = tok
	return s
}

// aaa reads "AAA user authentication {Successful|Rejected} : ... : user =
// NAME [: user IP = IP]" and "AAA transaction status {ACCEPT|REJECT} : user
// = NAME".
func aaa(msg string, ev *sdk.Event) {
	ev.SetStr("event.action", "user-authentication")
	switch {
	case strings.Contains(msg, " Successful") || strings.Contains(msg, " ACCEPT"):
		ev.SetStr("event.outcome", "success")
	case strings.Contains(msg, " Rejected") || strings.Contains(msg, " REJECT"):
		ev.SetStr("event.outcome", "failure")
	}
	setUser(ev, colonValue(msg, "user = "))
	setIP(ev, "source.ip", colonValue(msg, "user IP = "))
}

// colonValue returns the value after key up to the next " :" or ",".
func colonValue(msg, key string) string {
	k := strings.Index(msg, key)
	if k < 0 {
		return ""
	}
	v := msg[k+len(key):]
	if e := strings.Index(v, " :"); e >= 0 {
		v = v[:e]
	}
	if e := strings.IndexByte(v, ','); e >= 0 {
		v = v[:e]
	}
	return strings.TrimSpace(v)
}

func setUser(ev *sdk.Event, u string) {
	if u != "" && strings.Trim(u, "*") != "" {
		ecsfields.SetStr(ev, "user.name", u)
	}
}

// login reads 605004/605005: "Login {denied|permitted} from IP/PORT to
// IFACE:IP/SERVICE for user "NAME"".
func login(ok bool, msg string, ev *sdk.Event) {
	ev.SetStr("event.action", "login")
	ev.SetStr("event.outcome", pick(ok, "success", "failure"))
	var buf [12]string
	w := buf[:words(msg, buf[:])]
	var src, dst side
	if a, i := after(w, "from"); i >= 0 {
		src = parseSide(a)
		if b, j := after(w[i:], "to"); j >= 0 {
			dst = parseSide(b)
		}
	}
	setEnds(ev, src, dst)
	if k := strings.Index(msg, ` for user "`); k >= 0 {
		u := msg[k+len(` for user "`):]
		if e := strings.IndexByte(u, '"'); e >= 0 {
			setUser(ev, u[:e])
		}
	}
}

// vpnUser reads 611101/611102: "User authentication {succeeded|failed}:
// IP address: IP, Uname: NAME".
func vpnUser(ok bool, msg string, ev *sdk.Event) {
	ev.SetStr("event.action", "user-authentication")
	ev.SetStr("event.outcome", pick(ok, "success", "failure"))
	setUser(ev, colonValue(msg, "Uname: "))
	setIP(ev, "source.ip", colonValue(msg, "IP address: "))
}

// ids reads "IDS:NNNN SIGNATURE TEXT from IP to IP on interface X".
func ids(msg string, ev *sdk.Event) {
	if !strings.HasPrefix(msg, "IDS:") {
		return
	}
	ev.SetStr("event.action", "ids-alert")
	e := syslogcore.TokenEnd(msg, 4)
	ecsfields.SetStr(ev, "rule.id", msg[4:e])
	if k := strings.Index(msg, " from "); k > e {
		ecsfields.SetStr(ev, "rule.name", strings.TrimSpace(msg[e:k]))
	}
	filter(msg, ev)
}

// ftdConnection reads the "Key: value, Key: value" FTD connection events.
func ftdConnection(msg string, ev *sdk.Event) {
	setIP(ev, "source.ip", ftdValue(msg, "SrcIP"))
	setIP(ev, "destination.ip", ftdValue(msg, "DstIP"))
	setPort(ev, "source.port", ftdValue(msg, "SrcPort"))
	setPort(ev, "destination.port", ftdValue(msg, "DstPort"))
	ecsfields.SetStr(ev, "network.transport", transport(ftdValue(msg, "Protocol")))
	ecsfields.SetStr(ev, "observer.ingress.interface.name", ftdValue(msg, "IngressInterface"))
	ecsfields.SetStr(ev, "observer.egress.interface.name", ftdValue(msg, "EgressInterface"))
	ecsfields.SetStr(ev, "rule.name", ftdValue(msg, "AccessControlRuleName"))
	ecsfields.SetStr(ev, "event.action", ecsfields.ToLower(ftdValue(msg, "AccessControlRuleAction")))
	if u := ftdValue(msg, "User"); u != "No Authentication Required" {
		setUser(ev, u)
	}
}

// ftdValue returns the value of "Key: value" at the start of msg or after
// ", ", up to the next ", ".
func ftdValue(msg, key string) string {
	for off := 0; off < len(msg); {
		k := strings.Index(msg[off:], key+": ")
		if k < 0 {
			return ""
		}
		k += off
		off = k + len(key)
		if k == 0 || k >= 2 && msg[k-2:k] == ", " {
			v := msg[k+len(key)+2:]
			if e := strings.Index(v, ", "); e >= 0 {
				v = v[:e]
			}
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// transport names the protocol word of a message, or "".
func transport(w string) string {
	switch w {
	case "TCP", "tcp":
		return "tcp"
	case "UDP", "udp":
		return "udp"
	case "ICMP", "icmp":
		return "icmp"
	case "ICMPv6", "icmp6", "ICMP6":
		return "ipv6-icmp"
	case "GRE", "gre":
		return "gre"
	case "ESP", "esp":
		return "esp"
	case "SCTP", "sctp":
		return "sctp"
	}
	return ""
}

func pick(cond bool, yes, no string) string {
	if cond {
		return yes
	}
	return no
}

// port reads a port number or one of the service names the ASA prints in
// place of well-known ports.
func port(s string) (int64, bool) {
	if n, ok := syslogcore.ParseUint(s); ok {
		return n, n <= 65535
	}
	n, ok := services[s]
	return n, ok
}

var services = map[string]int64{
	"ftp-data": 20, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53,
	"bootps": 67, "bootpc": 68, "tftp": 69, "http": 80, "www": 80, "kerberos": 88,
	"pop3": 110, "sunrpc": 111, "ident": 113, "nntp": 119, "ntp": 123,
	"netbios-ns": 137, "netbios-dgm": 138, "netbios-ssn": 139, "imap4": 143,
	"snmp": 161, "snmptrap": 162, "bgp": 179, "ldap": 389, "https": 443,
	"isakmp": 500, "syslog": 514, "rsh": 514, "lpd": 515, "rtsp": 554,
	"ldaps": 636, "sqlnet": 1521, "radius": 1645, "radius-acct": 1646,
	"h323": 1720, "pptp": 1723, "ctiqbe": 2748, "sip": 5060, "aol": 5190,
	"citrix-ica": 1494, "lotusnotes": 1352, "cifs": 3020, "nfs": 2049,
}
