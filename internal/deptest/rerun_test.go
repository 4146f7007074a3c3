package deptest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// storeRunners are the methods whose function argument the store may run more than once: the
// group-commit writer runs a batch's other functions again when one fails, and a read is run
// again after a lost connection (the contract in internal/store, Store.Update).
var storeRunners = map[string]bool{"Update": true, "View": true, "ViewCached": true, "ViewCacheFirst": true, "ReadOnWriter": true}

// TestStoreFunctionsStartOver: a function passed to the store must start from scratch on every
// run. This finds the shapes that carry one run's state into the next: appending to, counting
// in or filling a map or slice declared outside the function, without first setting it anew in
// the function's own top-level statements (out = nil, out = out[:0], n = 0). Results assigned
// whole (out = x) are not flagged: each run overwrites them.
func TestStoreFunctionsStartOver(t *testing.T) {
	fset := token.NewFileSet()
	var finds []string
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !storeRunners[sel.Sel.Name] {
				return true
			}
			for _, a := range call.Args {
				if lit, ok := a.(*ast.FuncLit); ok {
					for _, m := range carriedState(lit) {
						finds = append(finds, fset.Position(m).String())
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range finds {
		t.Errorf("%s: a function the store may run twice adds to a variable declared outside it without setting it anew first", f)
	}
}

// carriedState returns the positions in lit where a variable declared outside lit is appended
// to, counted in, or written by index, with no reset of it among lit's top-level statements
// before that point.
func carriedState(lit *ast.FuncLit) []token.Pos {
	local := map[string]bool{}
	for _, fl := range lit.Type.Params.List {
		for _, n := range fl.Names {
			local[n.Name] = true
		}
	}
	// Names declared anywhere inside (scoping is approximated: a name declared inside is
	// local everywhere in lit, which can only hide a finding, never invent one).
	ast.Inspect(lit.Body, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.AssignStmt:
			if x.Tok == token.DEFINE {
				for _, l := range x.Lhs {
					if id, ok := l.(*ast.Ident); ok {
						local[id.Name] = true
					}
				}
			}
		case *ast.ValueSpec:
			for _, id := range x.Names {
				local[id.Name] = true
			}
		case *ast.RangeStmt:
			if x.Tok == token.DEFINE {
				for _, e := range []ast.Expr{x.Key, x.Value} {
					if id, ok := e.(*ast.Ident); ok {
						local[id.Name] = true
					}
				}
			}
		case *ast.FuncLit:
			for _, fl := range x.Type.Params.List {
				for _, n := range fl.Names {
					local[n.Name] = true
				}
			}
		}
		return true
	})
	// Outer variables set whole by a top-level statement of lit, and where.
	reset := map[string]token.Pos{}
	for _, st := range lit.Body.List {
		if as, ok := st.(*ast.AssignStmt); ok && as.Tok == token.ASSIGN {
			for i, l := range as.Lhs {
				if id, ok := l.(*ast.Ident); ok && !local[id.Name] && !appendsTo(as.Rhs, i, id.Name) {
					if _, seen := reset[id.Name]; !seen {
						reset[id.Name] = as.Pos()
					}
				}
			}
		}
	}
	outer := func(e ast.Expr, at token.Pos) bool {
		id, ok := e.(*ast.Ident)
		if !ok || id.Name == "_" || local[id.Name] {
			return false
		}
		r, ok := reset[id.Name]
		return !ok || r > at
	}
	var out []token.Pos
	ast.Inspect(lit.Body, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.AssignStmt:
			for i, l := range x.Lhs {
				switch {
				case x.Tok == token.ASSIGN && appendsTo(x.Rhs, i, identName(l)) && outer(l, x.Pos()):
					out = append(out, x.Pos())
				case x.Tok != token.ASSIGN && x.Tok != token.DEFINE && outer(l, x.Pos()):
					out = append(out, x.Pos()) // n += k
				case x.Tok == token.ASSIGN:
					if ix, ok := l.(*ast.IndexExpr); ok && outer(ix.X, x.Pos()) {
						out = append(out, x.Pos()) // m[k] = v
					}
				}
			}
		case *ast.IncDecStmt:
			if outer(x.X, x.Pos()) {
				out = append(out, x.Pos())
			}
		}
		return true
	})
	return out
}

// appendsTo says whether rhs[i] is append(name, ...).
func appendsTo(rhs []ast.Expr, i int, name string) bool {
	if name == "" || len(rhs) <= i {
		return false
	}
	c, ok := rhs[i].(*ast.CallExpr)
	if !ok || len(c.Args) == 0 {
		return false
	}
	fn, ok := c.Fun.(*ast.Ident)
	return ok && fn.Name == "append" && identName(c.Args[0]) == name
}

func identName(e ast.Expr) string {
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}
