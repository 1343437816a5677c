package ecsfields

import (
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/syslogcore"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// Kind says how Store.Set reads the value of a key with an ECS meaning.
type Kind int

// Kinds Store.Set reads. A parser that needs more numbers its own from
// NumKinds on and resolves them before calling Set.
const (
	KindStr   Kind = iota // a string, as written
	KindIP                // a string, only when the value is an IP address
	KindPort              // an int, 0..65535
	KindInt               // an int, 0 or more
	KindLower             // a string, through Lower
	KindTime              // @timestamp, through ParseTime
	NumKinds
)

// Names remembers the strings it builds from bytes, so that a name seen
// before costs no allocation. It keeps at most a set number of them; beyond
// that a new name costs one allocation each time. A Names is used by one
// goroutine at a time.
type Names struct {
	m     map[string]string
	limit int
}

// NewNames returns a Names remembering at most limit strings.
func NewNames(limit int) Names {
	return Names{limit: limit}
}

// String returns b as a string, remembered.
func (n *Names) String(b []byte) string {
	if k, ok := n.m[string(b)]; ok {
		return k
	}
	k := string(b)
	if len(n.m) < n.limit {
		if n.m == nil {
			n.m = make(map[string]string)
		}
		n.m[k] = k
	}
	return k
}

// maxKeys bounds the number of "<prefix><key>" strings a Store remembers.
const maxKeys = 1024

// Store files the key=value pairs of a payload as fields: a key with an ECS
// meaning under that name, read as its Kind; every other key, and one whose
// value does not read as its Kind, as the string <prefix><key>. The first
// value of a field wins. A Store is used by one goroutine at a time.
type Store struct {
	prefix string
	loc    *time.Location
	now    func() time.Time
	keys   Names
	buf    []byte
}

// NewStore returns a Store naming unmapped keys prefix+key ("cef.extensions.",
// "leef.attributes.", "kv."). loc and now are ParseTime's, for KindTime;
// nil takes UTC and time.Now.
func NewStore(prefix string, loc *time.Location, now func() time.Time) Store {
	if loc == nil {
		loc = time.UTC
	}
	if now == nil {
		now = time.Now
	}
	return Store{prefix: prefix, loc: loc, now: now, keys: NewNames(maxKeys)}
}

// Key returns prefix+name without allocating once the name has been seen.
func (s *Store) Key(name string) string {
	s.buf = append(append(s.buf[:0], s.prefix...), name...)
	return s.keys.String(s.buf)
}

// Set stores the pair key=v: under ecs read as kind, or, when ecs is "" or v
// does not read as kind, as the string Key(key). A KindTime value sets
// ev.Timestamp. An empty value sets nothing.
func (s *Store) Set(ev *sdk.Event, key, v, ecs string, kind Kind) {
	if v == "" {
		return
	}
	switch kind {
	case KindIP:
		if !IsIP(v) {
			ecs = ""
		}
	case KindPort:
		if n, ok := ParsePort(v); ok {
			SetInt(ev, ecs, n)
			return
		}
		ecs = ""
	case KindInt:
		if n, ok := syslogcore.ParseUint(v); ok {
			SetInt(ev, ecs, n)
			return
		}
		ecs = ""
	case KindLower:
		v = Lower(v)
	case KindTime:
		if t, ok := ParseTime(v, s.loc, s.now); ok {
			ev.Timestamp = t
			return
		}
		ecs = ""
	}
	if ecs == "" {
		ecs = s.Key(key)
	}
	if !Has(ev, ecs) {
		ev.SetStr(ecs, v)
	}
}
