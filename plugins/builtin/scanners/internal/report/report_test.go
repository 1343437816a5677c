package report

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/plugins/sdk"
)

func TestSource_LimitAndMark(t *testing.T) {
	in := "\xEF\xBB\xBFab\ncd\n"
	s := NewSource(strings.NewReader(in), 6)
	got, err := io.ReadAll(s)
	if err != nil || string(got) != "ab\ncd\n" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	if s.Offset(2) != 5 || s.LineAt(nil) != 3 || s.LineAt([]byte("cd\n")) != 2 {
		t.Errorf("Offset(2) = %d, LineAt = %d/%d", s.Offset(2), s.LineAt(nil), s.LineAt([]byte("cd\n")))
	}
	s = NewSource(strings.NewReader(in), 5)
	if _, err := io.ReadAll(s); !errors.Is(err, sdk.ErrLimit) {
		t.Errorf("one byte over: %v, want ErrLimit", err)
	}
}

func TestEvidence_Bound(t *testing.T) {
	e := NewEvidence(sdk.Limits{MaxField: 20})
	e.Add("a", "0123456789", 0)
	e.Add("b", "0123456789", 5)
	want := "a: 0123456789\nb: 012\n[evidence truncated: 12 bytes omitted]"
	if got := e.String(); got != want {
		t.Errorf("evidence = %q, want %q", got, want)
	}
	if got := Prefix("aé", 2); got != "a" {
		t.Errorf("Prefix split a rune: %q", got)
	}
}

func TestNormalisers(t *testing.T) {
	for in, want := range map[string]string{"CWE-79": "79", "cwe:0079": "79", "79": "79", "CWE-00 Bad": "", "none": "", "CWE-79: XSS": "79"} {
		if got := CWE(in); got != want {
			t.Errorf("CWE(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]float64{"7.5": 7.5, " 5 (AV:N)": 5, "-": 0, "11": 0, "": 0, "9.8.1": 0} {
		if got := Score(in); got != want {
			t.Errorf("Score(%q) = %v, want %v", in, got, want)
		}
	}
	for in, want := range map[string]int{"443": 443, "0": 0, "70000": 0, "x": 0} {
		if got := Port(in); got != want {
			t.Errorf("Port(%q) = %d, want %d", in, got, want)
		}
	}
	var cves []string
	CVEsIn("see cve-2021-44228 and CVE-2021-4 and CVE-2020-12345.", func(c string) { cves = append(cves, c) })
	if strings.Join(cves, ",") != "cve-2021-44228,CVE-2020-12345" {
		t.Errorf("CVEsIn = %v", cves)
	}
	if name, ver, ok := PURL("pkg:npm/%40scope/pkg@1.0.0?arch=x#sub"); !ok || name != "@scope/pkg" || ver != "1.0.0" {
		t.Errorf("PURL = %q %q %v", name, ver, ok)
	}
	if _, _, ok := PURL("log4j-core"); ok {
		t.Error("PURL accepted a plain name")
	}
	if got := PlainText("<p>One &amp; two</p><ul><li>a</li><li>b</li></ul>"); got != "One & two\n\na\n\nb" {
		t.Errorf("PlainText = %q", got)
	}
}

func TestBase64_DecodesOnlyThePrefix(t *testing.T) {
	text, left, err := Base64("MDEy\nMzQ1", 100) // "012345" with a line break
	if err != nil || text != "012345" || left != 0 {
		t.Errorf("Base64 = %q, %d, %v", text, left, err)
	}
	body := bytes.Repeat([]byte("0123456789"), 1000)
	text, left, err = Base64(base64.StdEncoding.EncodeToString(body), 16)
	if err != nil || text != "0123456789012345" || left != len(body)-16 {
		t.Errorf("Base64 cut = %q, %d left, %v", text, left, err)
	}
	if _, _, err := Base64("!!!!", 10); err == nil {
		t.Error("Base64 accepted garbage")
	}
}
