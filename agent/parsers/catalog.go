package parsers

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vigil-sec/vigil/plugins/builtin/accesslog"
	"github.com/vigil-sec/vigil/plugins/builtin/cef"
	"github.com/vigil-sec/vigil/plugins/builtin/ciscoasa"
	"github.com/vigil-sec/vigil/plugins/builtin/iptables"
	"github.com/vigil-sec/vigil/plugins/builtin/jsonlines"
	"github.com/vigil-sec/vigil/plugins/builtin/kv"
	"github.com/vigil-sec/vigil/plugins/builtin/leef"
	"github.com/vigil-sec/vigil/plugins/builtin/raw"
	"github.com/vigil-sec/vigil/plugins/builtin/rfc3164"
	"github.com/vigil-sec/vigil/plugins/builtin/rfc5424"
	"github.com/vigil-sec/vigil/plugins/builtin/sshd"
	"github.com/vigil-sec/vigil/plugins/builtin/syslog"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// builtins maps the short names used in agent.yaml to constructors. Each call
// returns a new Parser, because a Parser is used by one goroutine at a time.
var builtins = map[string]func() sdk.Parser{
	"syslog":  func() sdk.Parser { return syslog.New(syslog.Options{}) },
	"rfc3164": func() sdk.Parser { return rfc3164.New(rfc3164.Options{}) },
	"rfc5424": func() sdk.Parser { return rfc5424.New() },
	"raw":     func() sdk.Parser { return raw.Parser{} },

	// Device formats; see docs/parsers.md. Each component id is "parser."
	// plus the short name.
	"cef":       func() sdk.Parser { return cef.New(cef.Options{}) },
	"leef":      func() sdk.Parser { return leef.New(leef.Options{}) },
	"json":      func() sdk.Parser { return jsonlines.New(jsonlines.Options{}) },
	"kv":        func() sdk.Parser { return kv.New(kv.Options{}) },
	"cisco_asa": func() sdk.Parser { return ciscoasa.New(ciscoasa.Options{}) },
	"iptables":  func() sdk.Parser { return iptables.New(iptables.Options{}) },
	"sshd":      func() sdk.Parser { return sshd.New(sshd.Options{}) },
	"accesslog": func() sdk.Parser { return accesslog.New(accesslog.Options{}) },
}

// New returns a new parser by short name ("syslog") or component id
// ("parser.syslog").
func New(name string) (sdk.Parser, error) {
	name = strings.TrimPrefix(name, "parser.")
	switch name {
	case "syslog_rfc3164":
		name = "rfc3164"
	case "syslog_rfc5424":
		name = "rfc5424"
	}
	mk, ok := builtins[name]
	if !ok {
		return nil, fmt.Errorf("unknown parser %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return mk(), nil
}

// Names lists the built-in parser names.
func Names() []string {
	out := make([]string, 0, len(builtins))
	for n := range builtins {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
