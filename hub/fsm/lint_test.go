package fsm_test

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/build"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The determinism lint (invariant 3). Apply code must not read the clock,
// draw random numbers or depend on map iteration order. It is checked on
// the source of hub/fsm and hub/store with full type information, so a map
// is recognised by its type whatever it is called.
//
// Rules:
//   - no use of time.Now, time.Since or time.Until (called or not);
//   - no import of math/rand, math/rand/v2 or crypto/rand;
//   - no range over a value of map type, nor over maps.All/Keys/Values,
//     unless the line directly above carries a //fsm:sorted comment.

var bannedImports = map[string]bool{"math/rand": true, "math/rand/v2": true, "crypto/rand": true}

var bannedTimeFuncs = map[string]bool{"Now": true, "Since": true, "Until": true}

// lintDeterminism returns the violations in files, sorted, as
// "file:line: message".
func lintDeterminism(fset *token.FileSet, files []*ast.File, info *types.Info) []string {
	var out []string
	report := func(pos token.Pos, format string, args ...any) {
		p := fset.Position(pos)
		out = append(out, fmt.Sprintf("%s:%d: %s", filepath.Base(p.Filename), p.Line, fmt.Sprintf(format, args...)))
	}
	for _, f := range files {
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if bannedImports[path] {
				report(imp.Pos(), "import of %s", path)
			}
		}
		sorted := map[int]bool{} // lines carrying //fsm:sorted
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				if c.Text == "//fsm:sorted" || strings.HasPrefix(c.Text, "//fsm:sorted ") {
					sorted[fset.Position(c.Slash).Line] = true
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Ident:
				if fn, ok := info.Uses[n].(*types.Func); ok && fn.Pkg() != nil && fn.Pkg().Path() == "time" &&
					fn.Type().(*types.Signature).Recv() == nil && bannedTimeFuncs[fn.Name()] {
					report(n.Pos(), "use of time.%s", fn.Name())
				}
			case *ast.RangeStmt:
				what := ""
				if tv, ok := info.Types[n.X]; ok && tv.Type != nil {
					if _, isMap := tv.Type.Underlying().(*types.Map); isMap {
						what = "range over map " + types.ExprString(n.X)
					}
				}
				if call, ok := n.X.(*ast.CallExpr); ok {
					if fn := calledFunc(info, call); fn != nil && fn.Pkg() != nil && fn.Pkg().Path() == "maps" {
						what = "range over maps." + fn.Name()
					}
				}
				if what != "" && !sorted[fset.Position(n.For).Line-1] {
					report(n.For, "%s without //fsm:sorted", what)
				}
			}
			return true
		})
	}
	slices.SortFunc(out, func(a, b string) int {
		fa, la := splitPos(a)
		fb, lb := splitPos(b)
		if fa != fb {
			return strings.Compare(fa, fb)
		}
		return la - lb
	})
	return out
}

func splitPos(v string) (string, int) {
	parts := strings.SplitN(v, ":", 3)
	n, _ := strconv.Atoi(parts[1])
	return parts[0], n
}

func calledFunc(info *types.Info, call *ast.CallExpr) *types.Func {
	var id *ast.Ident
	switch fun := ast.Unparen(call.Fun).(type) {
	case *ast.Ident:
		id = fun
	case *ast.SelectorExpr:
		id = fun.Sel
	case *ast.IndexExpr: // explicit instantiation
		if sel, ok := fun.X.(*ast.SelectorExpr); ok {
			id = sel.Sel
		} else if i, ok := fun.X.(*ast.Ident); ok {
			id = i
		}
	}
	if id == nil {
		return nil
	}
	fn, _ := info.Uses[id].(*types.Func)
	return fn
}

// exportData maps import paths to compiled export data, from the go
// command's build cache, so that type-checking needs no x/tools and takes
// well under a second.
var exportData = sync.OnceValues(func() (map[string]string, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("the go command is needed for the lint: %w", err)
	}
	cmd := exec.Command(gobin, "list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}",
		"github.com/vigil-sec/vigil/hub/fsm", "github.com/vigil-sec/vigil/hub/store",
		"time", "maps", "slices", "sort", "math/rand", "math/rand/v2", "crypto/rand")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v: %s", err, stderr.String())
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if path, file, ok := strings.Cut(sc.Text(), "\t"); ok && file != "" {
			m[path] = file
		}
	}
	return m, sc.Err()
})

// typeCheck type-checks files as package path and returns the information
// the lint needs.
func typeCheck(t *testing.T, fset *token.FileSet, path string, files []*ast.File) *types.Info {
	t.Helper()
	exports, err := exportData()
	if err != nil {
		t.Fatal(err)
	}
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(file)
	})
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}, Uses: map[*ast.Ident]types.Object{}}
	conf := types.Config{Importer: imp}
	if _, err := conf.Check(path, fset, files, info); err != nil {
		t.Fatalf("type-check %s: %v", path, err)
	}
	return info
}

func TestFSM_DeterminismLint(t *testing.T) {
	for _, pkg := range []struct {
		dir, path string
		mustHave  []string
	}{
		{".", "github.com/vigil-sec/vigil/hub/fsm", []string{"fsm.go", "apply_ingest.go", "apply_tokens.go"}},
		{"../store", "github.com/vigil-sec/vigil/hub/store", []string{"store.go", "store_events.go", "snapshot.go"}},
	} {
		bp, err := build.ImportDir(pkg.dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range pkg.mustHave {
			if !slices.Contains(bp.GoFiles, name) {
				t.Fatalf("%s: %s not among the files linted: %v", pkg.path, name, bp.GoFiles)
			}
		}
		fset := token.NewFileSet()
		var files []*ast.File
		for _, name := range bp.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(pkg.dir, name), nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		info := typeCheck(t, fset, pkg.path, files)
		for _, v := range lintDeterminism(fset, files, info) {
			t.Errorf("%s: %s", pkg.path, v)
		}
	}
}

// lintSnippet is source with each kind of violation, marked "want:", and
// look-alikes that are not violations, unmarked.
const lintSnippet = `package snippet

import (
	crand "crypto/rand" // want: import of crypto/rand
	"maps"
	"math/rand" // want: import of math/rand
	r2 "math/rand/v2" // want: import of math/rand/v2
	"slices"
	"sort"
	"time"
	clock "time"
	. "time"
)

type table map[string]int

type holder struct {
	byID map[string]int
	list []int
}

type fakeClock struct{}

func (fakeClock) Now() int { return 0 }

func since(Time) Duration { return 0 }

func get() map[int]bool { return nil }

func f(m map[string]int, tb table, h holder, s []int, fc fakeClock) {
	_ = time.Now() // want: use of time.Now
	_ = clock.Since(time.Time{}) // want: use of time.Since
	_ = time.Until(time.Time{}) // want: use of time.Until
	_ = Now() // want: use of time.Now
	now := time.Now // want: use of time.Now
	_ = now
	_ = time.Unix(0, 0).Add(time.Second).Sub(Unix(1, 0))
	_ = since(time.Time{})
	_ = fc.Now()
	_ = rand.Int()
	_ = r2.Int()
	_, _ = crand.Read(nil)
	for k := range m { // want: range over map m
		_ = k
	}
	for range tb { // want: range over map tb
	}
	for k, v := range h.byID { // want: range over map h.byID
		_, _ = k, v
	}
	for range get() { // want: range over map get()
	}
	for k := range maps.Keys(m) { // want: range over maps.Keys
		_ = k
	}
	//fsm:sorted

	for range m { // want: range over map m
	}
	// fsm:sorted (not the directive: it has a space)
	for range m { // want: range over map m
	}
	//fsm:sorted keys are sorted below
	for k := range m {
		_ = k
	}
	keys := slices.Sorted(maps.Keys(m))
	for _, k := range keys {
		_ = k
	}
	sort.Ints(s)
	for _, v := range s {
		_ = v
	}
	for _, v := range h.list {
		_ = v
	}
	mapping := s // a slice, whatever its name
	for range mapping {
	}
	for i := range 3 {
		_ = i
	}
	for range "str" {
	}
	ch := make(chan int)
	close(ch)
	for range ch {
	}
}
`

var wantMarker = regexp.MustCompile(`// want: (.*)$`)

// The lint finds exactly the marked violations in the snippet: it can fail,
// and it does not fire on look-alikes.
func TestFSM_DeterminismLint_CatchesViolations(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "snippet.go", lintSnippet, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	info := typeCheck(t, fset, "example.com/snippet", []*ast.File{f})
	var want []string
	for i, line := range strings.Split(lintSnippet, "\n") {
		if m := wantMarker.FindStringSubmatch(line); m != nil {
			msg := m[1]
			if strings.HasPrefix(msg, "range") {
				msg += " without //fsm:sorted"
			}
			want = append(want, fmt.Sprintf("snippet.go:%d: %s", i+1, msg))
		}
	}
	if len(want) != 15 {
		t.Fatalf("%d markers in the snippet", len(want))
	}
	got := lintDeterminism(fset, []*ast.File{f}, info)
	if !slices.Equal(got, want) {
		t.Fatalf("lint findings differ\ngot:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
