package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

var exposureRE = regexp.MustCompile(`Overall exposure level for [^:]+: ([0-9.]+)`)

// systemdFigures prints the systemd-analyze security exposure of both
// units (target ≤ 2.0): systemd_exposure_vigil_agent and _vigil_hub.
// Skipped with a message where systemd-analyze is missing.
func (b *bench) systemdFigures() error {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		b.logf("systemd: systemd-analyze not installed; exposure not measured")
		return nil
	}
	for _, unit := range []string{"vigil-agent", "vigil-hub"} {
		path := filepath.Join(b.cfg.root, "systemd", unit+".service")
		out, err := exec.Command("systemd-analyze", "security", "--offline=true", "--no-pager", path).CombinedOutput()
		m := exposureRE.FindSubmatch(out)
		if m == nil {
			return fmt.Errorf("systemd-analyze security %s: %v: no exposure level in:\n%s", path, err, out)
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		b.figure("systemd_exposure_"+strings.ReplaceAll(unit, "-", "_"), v, "exposure")
	}
	return nil
}
