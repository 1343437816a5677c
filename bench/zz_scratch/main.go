package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vigil-sec/vigil/agent/parsers"
	"github.com/vigil-sec/vigil/protocol/agentpb"
	"google.golang.org/protobuf/proto"
)

func main() {
	files, _ := filepath.Glob("/work/shared/corpus/logs/*/*.log")
	p, _ := parsers.New("syslog")
	pr := parsers.NewProcessor("tcp", p, 0)
	var okN, errN, okRaw, errRaw, okEnc, errEnc int
	shown := 0
	for _, f := range files {
		fh, _ := os.Open(f)
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			l := sc.Bytes()
			if len(l) == 0 {
				continue
			}
			before := pr.Stats().ParseErrors
			enc := pr.Process(l, time.Now())
			if pr.Stats().ParseErrors > before {
				errN++
				errRaw += len(l)
				errEnc += len(enc)
			} else {
				okN++
				okRaw += len(l)
				okEnc += len(enc)
				if shown < 1 && filepath.Base(f) == "loghub-Mac_2k.log" {
					var ev agentpb.Event
					proto.Unmarshal(enc, &ev)
					fmt.Println(len(l), len(enc), ev.String())
					shown++
				}
			}
		}
	}
	fmt.Printf("ok %d lines raw %.0f enc %.0f; err %d lines raw %.0f enc %.0f\n", okN, float64(okRaw)/float64(okN), float64(okEnc)/float64(okN), errN, float64(errRaw)/float64(errN), float64(errEnc)/float64(errN))
}
