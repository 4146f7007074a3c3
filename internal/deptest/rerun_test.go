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
// run. This finds the shapes that carry one run's state into the next:
//   - appending to, counting in or filling a map or slice declared outside the function,
//     without first setting it anew in the function's own top-level statements (out = nil,
//     out = out[:0], n = 0);
//   - setting a variable declared outside the function inside a branch or loop (a flag set
//     when a row is found, a parameter narrowed on one path) without first setting it in a
//     top-level statement: a run that takes the other path keeps what an earlier run set.
//
// Results assigned whole by a top-level statement (out = x) are not flagged: each run
// overwrites them.
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
						finds = append(finds, fset.Position(m).String()+": a function the store may run twice adds to a variable declared outside it without setting it anew first")
					}
					for _, m := range branchState(lit) {
						finds = append(finds, fset.Position(m).String()+": a function the store may run twice sets a variable (or a field of one) declared outside it on one path only, or appends to it, without setting it on every run first")
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
		t.Error(f)
	}
}

// carriedState returns the positions in lit where a variable declared outside lit is appended
// to, counted in, or written by index, with no reset of it among lit's top-level statements
// before that point.
func carriedState(lit *ast.FuncLit) []token.Pos {
	local := localNames(lit)
	// Outer variables set whole by a top-level statement of lit, and where.
	reset := topSets(lit, local)
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

// localNames are the names lit declares: its parameters and every name declared anywhere
// inside it (scoping is approximated: a name declared inside is local everywhere in lit, which
// can only hide a finding, never invent one).
func localNames(lit *ast.FuncLit) map[string]bool {
	local := map[string]bool{}
	for _, fl := range lit.Type.Params.List {
		for _, n := range fl.Names {
			local[n.Name] = true
		}
	}
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
	return local
}

// topSets are the variables (and fields of them: "out.Items") a top-level statement of lit
// sets whole, each with the first such statement's position; an if or switch statement's
// initial assignment is top-level too. Appending to itself does not count.
func topSets(lit *ast.FuncLit, local map[string]bool) map[string]token.Pos {
	reset := map[string]token.Pos{}
	for _, st := range lit.Body.List {
		switch x := st.(type) {
		case *ast.IfStmt:
			st = x.Init
		case *ast.SwitchStmt:
			st = x.Init
		}
		as, ok := st.(*ast.AssignStmt)
		if !ok || as.Tok != token.ASSIGN {
			continue
		}
		for i, l := range as.Lhs {
			path := pathOf(l)
			if id := rootIdent(l); id == nil || local[id.Name] || appendsTo(as.Rhs, i, path) {
				continue
			}
			if _, seen := reset[path]; !seen {
				reset[path] = as.Pos()
			}
		}
	}
	return reset
}

// setBefore says whether reset holds path, or a variable or field path is part of, set
// before at.
func setBefore(reset map[string]token.Pos, path string, at token.Pos) bool {
	for p := path; ; {
		if r, ok := reset[p]; ok && r < at {
			return true
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

// branchState returns the positions in lit where a variable declared outside lit, or a field
// of one, is set inside a block (a branch, a loop, a case) with no top-level statement of lit
// setting it (or the variable) before that point; appending to one is flagged wherever it is.
// Function literals inside lit are not entered: what they set is theirs.
func branchState(lit *ast.FuncLit) []token.Pos {
	local := localNames(lit)
	reset := topSets(lit, local)
	var out []token.Pos
	var walk func(n ast.Node, nested bool)
	walk = func(n ast.Node, nested bool) {
		ast.Inspect(n, func(m ast.Node) bool {
			if m == n {
				return true
			}
			switch x := m.(type) {
			case *ast.BlockStmt:
				walk(x, true)
				return false
			case *ast.CaseClause, *ast.CommClause:
				walk(x, true)
				return false
			case *ast.FuncLit:
				return false
			case *ast.AssignStmt:
				if x.Tok != token.ASSIGN {
					return true
				}
				for i, l := range x.Lhs {
					id := rootIdent(l)
					if id == nil || id.Name == "_" || local[id.Name] || !nested && !appendsTo(x.Rhs, i, pathOf(l)) {
						continue
					}
					if !setBefore(reset, pathOf(l), x.Pos()) {
						out = append(out, x.Pos())
					}
				}
			}
			return true
		})
	}
	walk(lit.Body, false)
	return out
}

// pathOf names a variable or a field of one as written: "out", "out.Items"; "" for anything
// else.
func pathOf(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		if p := pathOf(x.X); p != "" {
			return p + "." + x.Sel.Name
		}
	}
	return ""
}

// rootIdent is the variable an assignment to e sets all or part of: x for x, x.f and x.f.g;
// nil for an index or a dereference (carriedState's or nobody's).
func rootIdent(e ast.Expr) *ast.Ident {
	for {
		switch x := e.(type) {
		case *ast.Ident:
			return x
		case *ast.SelectorExpr:
			e = x.X
		default:
			return nil
		}
	}
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
	return ok && fn.Name == "append" && pathOf(c.Args[0]) == name
}

func identName(e ast.Expr) string {
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}
