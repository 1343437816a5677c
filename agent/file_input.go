package agent

import (
	"log/slog"

	"github.com/vigil-sec/vigil/agent/buffer"
	"github.com/vigil-sec/vigil/agent/config"
	"github.com/vigil-sec/vigil/agent/inputs"
	"github.com/vigil-sec/vigil/agent/inputs/file"
)

func newFileInput(ic config.InputConfig, buf *buffer.Buffer, log *slog.Logger) (inputs.Input, error) {
	return file.New(file.Config{
		ID: ic.ID, Paths: ic.Paths, Exclude: ic.Exclude, Parser: ic.Parser,
		MaxLine: int(ic.MaxLine), StartAt: ic.StartAt,
	}, buf, log)
}
