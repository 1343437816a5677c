package accesslog

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
)

// TestCorpus_Matches parses the whole corpus: every line of the five
// web-access files parses (one of them inside syslog); the Apache error and
// ModSecurity logs, whose lines start with "[date]", do not.
func TestCorpus_Matches(t *testing.T) {
	device.CheckMatches(t, newTestParser(), map[string]int{
		"web-access/crowdsec-http-bf-wordpress-bf.log":       9,
		"web-access/crowdsec-http-cve-probing.log":           3,
		"web-access/crowdsec-ipv6-postoverflow.log":          2,
		"web-access/crowdsec-nginx-http-sensitive-files.log": 9,
		"web-access/elastic-examples-apache_logs.part3.log":  2000,
	})
}

// parseFile parses every record of a corpus file, all of which must parse,
// and returns their fields and timestamps.
func parseFile(t *testing.T, file string) ([]map[string]any, []time.Time) {
	t.Helper()
	return parsertest.ParseCorpusFile(t, newTestParser(), file)
}

// TestCorpus_ApacheCombined counts over the 2000 lines of the Elastic
// Apache sample. Status and method counts and the 422 client addresses are
// MANIFEST.md's; the others were counted with awk over the '"'-separated
// fields: 83 sizes are "-", 252 targets hold a query, 853 referrers and 17
// user agents are "-", 115 requests are HTTP/1.0. Line 899 ends inside the
// user agent (the file cut it); it is kept as far as it goes.
func TestCorpus_ApacheCombined(t *testing.T) {
	ms, ts := parseFile(t, "web-access/elastic-examples-apache_logs.part3.log")
	status := map[int64]int{}
	method := map[string]int{}
	version := map[string]int{}
	present := map[string]int{}
	ips := map[string]bool{}
	scanner404 := 0
	for i, m := range ms {
		status[parsertest.Num(m["http.response.status_code"])]++
		method[parsertest.Str(m["http.request.method"])]++
		version[parsertest.Str(m["http.version"])]++
		ips[parsertest.Str(m["source.ip"])] = true
		for k := range m {
			present[k]++
		}
		if m["source.ip"] == "144.76.95.39" && m["http.response.status_code"] == int64(404) {
			scanner404++
		}
		if y, mo, d := ts[i].Date(); y != 2015 || mo != time.May || d != 20 {
			t.Errorf("record %d: timestamp %v, want 20 May 2015", i+1, ts[i])
		}
	}
	if want := map[int64]int{200: 1906, 404: 47, 304: 27, 301: 15, 206: 3, 403: 1, 500: 1}; !reflect.DeepEqual(status, want) {
		t.Errorf("status counts %v, want %v", status, want)
	}
	if want := map[string]int{"GET": 1984, "HEAD": 14, "POST": 1, "OPTIONS": 1}; !reflect.DeepEqual(method, want) {
		t.Errorf("method counts %v, want %v", method, want)
	}
	if want := map[string]int{"1.1": 1885, "1.0": 115}; !reflect.DeepEqual(version, want) {
		t.Errorf("http.version counts %v, want %v", version, want)
	}
	if len(ips) != 422 || scanner404 != 14 {
		t.Errorf("%d client addresses, %d 404s for 144.76.95.39; want 422, 14", len(ips), scanner404)
	}
	for k, n := range map[string]int{"source.ip": 2000, "url.original": 2000, "url.path": 2000,
		"http.response.body.bytes": 1917, "url.query": 252, "http.request.referrer": 1147,
		"user_agent.original": 1983, "user.name": 0, "source.domain": 0} {
		if present[k] != n {
			t.Errorf("%s set in %d records, want %d", k, present[k], n)
		}
	}
	if ua := ms[898]["user_agent.original"]; ua != "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html" {
		t.Errorf("record 899: user agent %q", ua)
	}
}

// TestCorpus_Probes checks the small CrowdSec files, read by hand.
func TestCorpus_Probes(t *testing.T) {
	// Nine probes for dot files, all 404 from 127.0.0.1 in one second; the
	// last asks for /.git/HEAD.
	ms, ts := parseFile(t, "web-access/crowdsec-nginx-http-sensitive-files.log")
	for i, m := range ms {
		if m["source.ip"] != "127.0.0.1" || m["http.response.status_code"] != int64(404) || !ts[i].Equal(ts[0]) ||
			!strings.HasPrefix(parsertest.Str(m["url.path"]), "/.") || m["user_agent.original"] != "curl/7.68.0" {
			t.Errorf("sensitive-files record %d: %v at %v", i+1, m, ts[i])
		}
	}
	if len(ms) != 9 || ms[8]["url.path"] != "/.git/HEAD" {
		t.Errorf("sensitive-files: %d records, last path %v; want 9, /.git/HEAD", len(ms), ms[len(ms)-1]["url.path"])
	}

	// Three CVE probes, all 404.
	ms, _ = parseFile(t, "web-access/crowdsec-http-cve-probing.log")
	paths := []string{}
	for _, m := range ms {
		if m["http.response.status_code"] != int64(404) {
			t.Errorf("cve-probing: status %v", m["http.response.status_code"])
		}
		paths = append(paths, parsertest.Str(m["url.path"]))
	}
	if want := []string{"/_ignition/execute-solution", "/setup.cgi", "/cgi/networkDiag.cgi"}; !reflect.DeepEqual(paths, want) {
		t.Errorf("cve-probing paths %v, want %v", paths, want)
	}

	// Two Nikto requests from an IPv6 client, the address kept as written.
	ms, _ = parseFile(t, "web-access/crowdsec-ipv6-postoverflow.log")
	for i, m := range ms {
		if m["source.ip"] != "2001:0db8:85a3:0000:0000:8a2e:0370:7334" || !strings.Contains(parsertest.Str(m["user_agent.original"]), "Nikto") {
			t.Errorf("ipv6 record %d: %v", i+1, m)
		}
	}
	if len(ms) != 2 {
		t.Errorf("ipv6: %d records, want 2", len(ms))
	}

	// Nine nginx lines behind a BSD syslog header: the host and program
	// come from the header, the time from the line.
	ms, ts = parseFile(t, "web-access/crowdsec-http-bf-wordpress-bf.log")
	for i, m := range ms {
		if m["host.name"] != "ip-172-31-43-28.us-east-2.compute.internal" || m["process.name"] != "nginx" ||
			m["process.pid"] != int64(2869) || m["source.ip"] != "81.150.104.130" || m["http.request.method"] != "POST" ||
			m["url.path"] != "/wp-login.php" || m["http.response.status_code"] != int64(200) ||
			!ts[i].Equal(time.Date(2021, 9, 15, 16, 13, 46, 0, time.UTC)) {
			t.Errorf("wordpress record %d: %v at %v", i+1, m, ts[i])
		}
	}
	if len(ms) != 9 {
		t.Errorf("wordpress: %d records, want 9", len(ms))
	}
}
