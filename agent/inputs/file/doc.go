// Package file is the agent's file-tail input: it follows the files matched
// by a set of globs, splits them into lines, parses each line through a
// parsers.Processor and appends the events to the durable buffer together
// with the file offsets they cover.
//
// It owns the per-file read state (open descriptors, offsets, partial lines)
// and the "file:" checkpoints in the buffer. It never writes to, truncates,
// renames or deletes a log file, never talks to the hub, never drops a line
// it has read (a full buffer makes it wait, files can wait), and never
// advances an offset past a line that was not appended.
//
// # Identity and checkpoints
//
// A file is identified by its (device, inode) pair, not its path, so a file
// keeps its read position when it is renamed. Its checkpoint is stored under
//
//	file:<input id>:<dev>:<ino>        (dev and ino in decimal)
//
// and its value is 29 bytes plus the path, big-endian:
//
//	version   1 byte   = 1
//	offset    8 bytes  end of the last line appended (always a line boundary,
//	                   except after a rotated file's unterminated last line)
//	size      8 bytes  the file size seen when the checkpoint was written
//	fp_len    2 bytes  how many leading bytes the fingerprint covers (0..256)
//	fp_hash   8 bytes  FNV-1a 64 of those bytes
//	path_len  2 bytes  then the path the file had (informational)
//
// Every append carries the checkpoint of the lines in it, in the same synced
// Pebble batch, so after a crash (kill -9 at any point) a restart resumes at
// exactly the first line that was not appended: no line is lost and none is
// duplicated. On restart a checkpoint is trusted only if the file is at least
// offset bytes long and its first fp_len bytes still hash to fp_hash;
// otherwise the inode was reused or the file was truncated while the agent
// was down, and the file is read from offset 0.
//
// Checkpoints of files that disappeared are left in the buffer: they are
// about 100 bytes each, Sink has no way to delete them, and the size and
// fingerprint checks make a stale one harmless when its inode is reused
// (unless the new file is already longer than the old offset and starts
// with the same up-to-256 bytes, which is the one case this cannot tell).
//
// # Lines
//
// Only '\n'-terminated lines are emitted; trailing '\r's are stripped and
// empty lines are skipped, their bytes still covered by the next checkpoint.
// An unterminated last line waits for its end for as long as the file stays
// at its path. A line longer than MaxLine keeps MaxLine+1 bytes, so that the
// Processor cuts it and tags it "truncated", and the rest of the line is read
// and dropped without being buffered. Memory per open file is one 64 KiB
// read buffer plus at most MaxLine+3 bytes of an unfinished line.
//
// # Rotation
//
// Paths are globbed again every ScanInterval. A file whose identity is no
// longer found under any matching path (renamed away by logrotate "create",
// or deleted) is kept open and read through its descriptor until it has been
// at its end with no growth for CloseRotatedAfter; then an unterminated last
// line is emitted as it is (the file can no longer be found after a restart,
// so waiting longer would lose it) and the file is closed. A file renamed to
// a name that still matches is simply followed under its new name. The new
// file created at the path is a new identity and is read from offset 0.
//
// copytruncate is detected when the file gets shorter than the read position
// or its first bytes no longer match the fingerprint: the file is read again
// from offset 0 on the same inode, counted in copytruncates_total and logged.
// Lines written between the copy and the truncate are lost by copytruncate
// itself, whatever the reader does.
//
// StartAt "end" applies to files found by the first scan of Run that have no
// checkpoint: they start after their last complete line (an unfinished line
// at the end is read once it is complete), and that position is checkpointed
// at once. Files that appear later are new and always read from offset 0.
//
// # Limits
//
// At most MaxOpenFiles files are open. Past that, idle files (at their end,
// nothing pending) are closed, least recently active first, and reopened by
// path when their size changes; a rotated or deleted file is never closed
// before it is drained. A closed idle file that is renamed to a non-matching
// name or deleted before it could be reopened loses the lines written after
// it was closed. Files that find no free slot wait for the next scan.
//
// Polling (every PollInterval, fstat per open file) is used rather than
// inotify: it needs no extra dependency, works on every file system
// (including NFS and bind mounts in containers) and costs one fstat per open
// file per poll.
package file
