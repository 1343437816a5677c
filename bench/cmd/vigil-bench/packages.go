package main

import (
	"os"
	"path/filepath"
	"strings"
)

// packageFigures prints the size of each .deb and .rpm that `make packages`
// left in ROOT/dist, as package_size_vigil_agent_deb and so on. It builds
// nothing: without packages it says so and prints no figure.
func (b *bench) packageFigures() error {
	dist := filepath.Join(b.cfg.root, "dist")
	found := 0
	for _, p := range []string{"vigil-agent", "vigil-hub"} {
		for _, f := range []struct{ format, glob string }{{"deb", p + "_*.deb"}, {"rpm", p + "-*.rpm"}} {
			matches, err := filepath.Glob(filepath.Join(dist, f.glob))
			if err != nil {
				return err
			}
			// The newest, should dist/ hold several versions.
			var newest os.FileInfo
			var name string
			for _, m := range matches {
				st, err := os.Stat(m)
				if err != nil {
					return err
				}
				if newest == nil || st.ModTime().After(newest.ModTime()) {
					newest, name = st, m
				}
			}
			if newest == nil {
				continue
			}
			found++
			b.logf("packages: %s", filepath.Base(name))
			b.figure("package_size_"+strings.ReplaceAll(p, "-", "_")+"_"+f.format, float64(newest.Size()), "bytes")
		}
	}
	if found == 0 {
		b.logf("packages: no .deb or .rpm in %s (run make packages first); no figures", dist)
	}
	return nil
}
