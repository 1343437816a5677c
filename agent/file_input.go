package agent

import (
	"fmt"
	"log/slog"

	"github.com/vigil-sec/vigil/agent/buffer"
	"github.com/vigil-sec/vigil/agent/config"
	"github.com/vigil-sec/vigil/agent/inputs"
)

func newFileInput(ic config.InputConfig, buf *buffer.Buffer, log *slog.Logger) (inputs.Input, error) {
	return nil, fmt.Errorf("input %s: file input not built yet", ic.ID)
}
