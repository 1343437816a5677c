package agent

import (
	"github.com/vigil-sec/vigil/agent/parsers"
	"log/slog"

	"github.com/vigil-sec/vigil/agent/buffer"
	"github.com/vigil-sec/vigil/agent/config"
	"github.com/vigil-sec/vigil/agent/inputs"
	"github.com/vigil-sec/vigil/agent/inputs/file"
)

func newFileInput(ic config.InputConfig, plugin parsers.BatchParser, buf *buffer.Buffer, log *slog.Logger) (inputs.Input, error) {
	return file.New(file.Config{
		ID: ic.ID, Paths: ic.Paths, Exclude: ic.Exclude, Parser: ic.Parser, Plugin: plugin,
		MaxLine: int(ic.MaxLine), StartAt: ic.StartAt,
	}, buf, log)
}
