package protocol

// ALPN protocol names offered on the hub's QUIC listener.
const (
	// ALPN carries agent data and control streams; both sides present
	// certificates signed by the cluster CA.
	ALPN = "vigil/1"
	// EnrollALPN carries one enrollment exchange. The agent has no certificate
	// yet; it authenticates the hub by the CA fingerprint pinned in its token,
	// and the hub authenticates the agent by the token's secret.
	EnrollALPN = "vigil-enroll/1"
	// RaftALPN carries the Raft transport between hub nodes (TCP+TLS); both
	// sides present hub certificates.
	RaftALPN = "vigil-raft/1"
)

// ProtocolVersion is the version this build speaks. MinProtocolVersion is the
// oldest version it still accepts from a peer. The hello exchange settles on
// the highest version both sides support.
const (
	ProtocolVersion    = 1
	MinProtocolVersion = 1
)

// Negotiate returns the version two peers use, or false when their ranges do
// not overlap.
func Negotiate(peerMin, peerMax uint32) (uint32, bool) {
	v := uint32(ProtocolVersion)
	if peerMax < v {
		v = peerMax
	}
	if v < MinProtocolVersion || v < peerMin {
		return 0, false
	}
	return v, true
}
