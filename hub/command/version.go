package command

import (
	"fmt"

	"github.com/vigil-sec/vigil/hub"
	"github.com/vigil-sec/vigil/protocol"
)

func versionString() string {
	return fmt.Sprintf("vigil-hub %s (protocol %d)", hub.Version, protocol.ProtocolVersion)
}
