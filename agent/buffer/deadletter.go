package buffer

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble"
)

// DeadLetter is a record that a parser plugin could not get through: it
// crashed or hung the plugin on every attempt. It is kept, never shipped,
// until an operator replays or drops it.
type DeadLetter struct {
	ID       uint64    `json:"id"`
	Time     time.Time `json:"time"`
	Input    string    `json:"input"`
	Parser   string    `json:"parser"`
	Error    string    `json:"error"`
	Attempts int       `json:"attempts"`
	Record   []byte    `json:"record"`
	// Received is when the input read the record.
	Received time.Time `json:"received"`
}

// maxDeadLetterRecord bounds one kept record; inputs already cut records at
// their max_line, so this only guards against a misconfiguration.
const maxDeadLetterRecord = 1 << 20

func deadLetterKey(id uint64) []byte {
	k := make([]byte, 9)
	k[0] = 'd'
	binary.BigEndian.PutUint64(k[1:], id)
	return k
}

// PutDeadLetter stores dl durably (synced whatever the fsync setting: a
// dead letter is the only copy of its record) and returns its id.
func (b *Buffer) PutDeadLetter(dl DeadLetter) (uint64, error) {
	if b.closed.Load() {
		return 0, ErrClosed
	}
	if len(dl.Record) > maxDeadLetterRecord {
		return 0, fmt.Errorf("dead letter of %d bytes: larger than %d", len(dl.Record), maxDeadLetterRecord)
	}
	b.dlMu.Lock()
	defer b.dlMu.Unlock()
	if b.dlNext == 0 {
		last, err := b.lastDeadLetterID()
		if err != nil {
			return 0, err
		}
		b.dlNext = last + 1
	}
	dl.ID = b.dlNext
	v, err := json.Marshal(dl)
	if err != nil {
		return 0, fmt.Errorf("encode dead letter: %w", err)
	}
	if err := b.db.Set(deadLetterKey(dl.ID), v, pebble.Sync); err != nil {
		return 0, fmt.Errorf("store dead letter: %w", err)
	}
	b.dlNext++
	return dl.ID, nil
}

func (b *Buffer) lastDeadLetterID() (uint64, error) {
	it, err := b.db.NewIter(&pebble.IterOptions{LowerBound: []byte{'d'}, UpperBound: []byte{'e'}})
	if err != nil {
		return 0, fmt.Errorf("read dead letters: %w", err)
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	return binary.BigEndian.Uint64(it.Key()[1:]), nil
}

// DeadLetters lists up to limit dead letters with ids above after, oldest
// first, and the total count.
func (b *Buffer) DeadLetters(after uint64, limit int) ([]DeadLetter, int, error) {
	it, err := b.db.NewIter(&pebble.IterOptions{LowerBound: []byte{'d'}, UpperBound: []byte{'e'}})
	if err != nil {
		return nil, 0, fmt.Errorf("read dead letters: %w", err)
	}
	defer it.Close()
	var out []DeadLetter
	total := 0
	for it.First(); it.Valid(); it.Next() {
		total++
		if binary.BigEndian.Uint64(it.Key()[1:]) <= after || len(out) >= limit {
			continue
		}
		var dl DeadLetter
		if err := json.Unmarshal(it.Value(), &dl); err != nil {
			return nil, 0, fmt.Errorf("decode dead letter %x: %w", it.Key(), err)
		}
		out = append(out, dl)
	}
	return out, total, it.Error()
}

// DeadLetter returns one dead letter.
func (b *Buffer) DeadLetter(id uint64) (DeadLetter, bool, error) {
	var dl DeadLetter
	v, closer, err := b.db.Get(deadLetterKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return dl, false, nil
	}
	if err != nil {
		return dl, false, fmt.Errorf("read dead letter %d: %w", id, err)
	}
	defer closer.Close()
	if err := json.Unmarshal(v, &dl); err != nil {
		return dl, false, fmt.Errorf("decode dead letter %d: %w", id, err)
	}
	return dl, true, nil
}

// DeleteDeadLetter removes one dead letter; false if there was none.
func (b *Buffer) DeleteDeadLetter(id uint64) (bool, error) {
	_, ok, err := b.DeadLetter(id)
	if err != nil || !ok {
		return false, err
	}
	if err := b.db.Delete(deadLetterKey(id), pebble.Sync); err != nil {
		return false, fmt.Errorf("delete dead letter %d: %w", id, err)
	}
	return true, nil
}
