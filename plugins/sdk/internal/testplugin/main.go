// Command testplugin is a parser plugin for the agent's tests: it parses
// key=value records and misbehaves on demand. A record "CRASH" makes it exit,
// "PANIC" panic, "HANG" block forever, and "ENV" report how many environment
// variables it was given and whether VIGIL_TEST_SECRET was among them.
package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"

	"github.com/vigil-sec/vigil/plugins/sdk"
)

type parser struct{}

func (parser) ID() string { return "parser.test_kv" }

func (parser) Parse(raw []byte, ev *sdk.Event) error {
	ev.Original = string(raw)
	switch string(bytes.TrimSpace(raw)) {
	case "CRASH":
		// A file named "fixed" beside the binary (the plugin's working
		// directory) stands for a fixed release: the record then parses.
		if _, err := os.Stat("fixed"); err == nil {
			ev.SetStr("test.fixed", "true")
			return nil
		}
		os.Exit(3)
	case "PANIC":
		panic("testplugin: asked to panic")
	case "HANG":
		select {}
	case "ENV":
		ev.SetInt("test.env_count", int64(len(os.Environ())))
		_, leaked := os.LookupEnv("VIGIL_TEST_SECRET")
		ev.SetBool("test.secret_visible", leaked)
		ev.SetInt("process.pid", int64(os.Getpid()))
		return nil
	}
	n := 0
	for _, kv := range strings.Fields(string(raw)) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if i, err := strconv.ParseInt(v, 10, 64); err == nil {
			ev.SetInt(k, i)
		} else {
			ev.SetStr(k, v)
		}
		n++
	}
	if n == 0 {
		return sdk.ErrNotMatched
	}
	return nil
}

func main() { sdk.Serve(parser{}) }
