package sdk

import "testing"

func TestCompatibleAPI(t *testing.T) {
	for _, c := range []struct {
		host, plugin string
		ok           bool
	}{
		{"0.1.0", "0.1.0", true},
		{"0.1.0", "0.1.7", true},
		{"0.1.0", "0.2.0", false}, // 0.x: the minor version is the breaking one
		{"1.2.0", "1.0.3", true},
		{"1.2.0", "2.0.0", false},
		{"1.0.0", "v1.4.0", true},
		{"1.0.0", "one", false},
		{"1.0.0", "", false},
	} {
		err := CompatibleAPI(c.host, c.plugin)
		if (err == nil) != c.ok {
			t.Errorf("CompatibleAPI(%q, %q) = %v, want ok=%v", c.host, c.plugin, err, c.ok)
		}
	}
}

func TestHandshake_IsFixed(t *testing.T) {
	// Changing these breaks every plugin ever built: never do.
	h := Handshake()
	if h.ProtocolVersion != 1 || h.MagicCookieKey != "VIGIL_PARSER_PLUGIN" || h.MagicCookieValue != "9f1c3a64-vigil-parser-plugin" {
		t.Fatalf("handshake changed: %+v", h)
	}
}
