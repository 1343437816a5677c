package jsonlines

import "testing"

// TestCorpus_NoFalseMatches parses the whole corpus, which holds no JSON
// records: not one of its lines may be taken for one, including the syslog
// lines whose message holds a '{' after other text.
func TestCorpus_NoFalseMatches(t *testing.T) {
	if got := device.MatchedPerFile(t, newTestParser()); len(got) != 0 {
		t.Errorf("records parsed as JSON: %v, want none", got)
	}
}
