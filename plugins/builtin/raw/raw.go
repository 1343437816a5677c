// Package raw is the parser of last resort: it keeps the record as the event
// message and sets no other field. It never fails and never drops input.
//
// Fields set: message (the record), event.original (always).
package raw

import "github.com/vigil-sec/vigil/plugins/sdk"

// ID is the component id of this parser.
const ID = "parser.raw"

// Parser is the raw parser.
type Parser struct{}

var _ sdk.Parser = Parser{}

// ID returns "parser.raw".
func (Parser) ID() string { return ID }

// Parse sets event.original and message to the record.
func (Parser) Parse(raw []byte, ev *sdk.Event) error {
	ev.Original = string(raw)
	ev.SetStr("message", ev.Original)
	return nil
}
