package fsm

// MessageType is the first byte of every Raft command.
//
// WARNING: new message types must be added to the end of the list. A value is
// never renumbered or reused, or nodes of different versions would apply the
// same entry differently. A retired type stays, marked Deprecated.
type MessageType uint8

const (
	IngestBatchType  MessageType = 1 // raftpb.IngestBatch
	TokenCreateType  MessageType = 2 // raftpb.TokenCreate
	TokenConsumeType MessageType = 3 // raftpb.TokenConsume
	RetentionType    MessageType = 4 // raftpb.Retention
	MemberUpsertType MessageType = 5 // raftpb.MemberUpsert
	ServerJoinType   MessageType = 6 // raftpb.ServerJoin
	MemberRemoveType MessageType = 7 // raftpb.MemberRemove
)

// IgnoreUnknownTypeFlag marks a command that older hubs may skip safely. A
// command without it that a node does not know crashes that node rather than
// letting its state diverge.
const IgnoreUnknownTypeFlag MessageType = 128

func (t MessageType) String() string {
	switch t &^ IgnoreUnknownTypeFlag {
	case IngestBatchType:
		return "ingest_batch"
	case TokenCreateType:
		return "token_create"
	case TokenConsumeType:
		return "token_consume"
	case RetentionType:
		return "retention"
	case MemberUpsertType:
		return "member_upsert"
	case ServerJoinType:
		return "server_join"
	case MemberRemoveType:
		return "member_remove"
	}
	return "unknown"
}
