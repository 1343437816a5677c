package frame

import (
	"fmt"

	"github.com/vigil-sec/vigil/protocol/agentpb"
	"google.golang.org/protobuf/proto"
)

// PeerError is an Error frame received from the peer.
type PeerError struct {
	Code    string
	Message string
}

func (e *PeerError) Error() string {
	if e.Code == "" {
		return "peer: " + e.Message
	}
	return fmt.Sprintf("peer: %s: %s", e.Code, e.Message)
}

func decodeError(payload []byte, pe *PeerError) error {
	var m agentpb.Error
	if err := proto.Unmarshal(payload, &m); err != nil {
		return fmt.Errorf("%w: decode error frame: %v", ErrMalformed, err)
	}
	pe.Code, pe.Message = m.GetCode(), m.GetMessage()
	return nil
}

// WriteError sends an Error frame; the caller then closes the stream.
func (fw *Writer) WriteError(code, msg string) error {
	return fw.Write(TypeError, &agentpb.Error{Code: code, Message: msg})
}

// Error codes sent to peers. Stable: operators search logs for them.
const (
	CodeVersion      = "VG1001" // no common protocol version
	CodeMalformed    = "VG1002" // a frame could not be decoded
	CodeTooLarge     = "VG1003" // a frame or batch exceeds a limit
	CodeUnauthorized = "VG1004" // certificate or token refused
	CodeNotLeader    = "VG1005" // the cluster has no leader right now; retry
	CodeRejected     = "VG1006" // a batch the state machine refused
	CodeInternal     = "VG1007" // the hub failed; retry later
	CodeTokenExpired = "VG1101"
	CodeTokenUsed    = "VG1102"
	CodeTokenUnknown = "VG1103"
	CodeTokenInvalid = "VG1104"
)
