package e2etest_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// sqlBuilt are the places allowed to build SQL text from more than constants, and why.
var sqlBuilt = map[string]string{
	"internal/pgtest/pgtest.go": "database names generated from random hex (test helper)",
	"internal/pgtest/role.go":   "role names from random hex, settings and database names given by tests, quoted with pgx.Identifier (test helper)",
	"service/service.go":        "LISTEN/UNLISTEN of a channel named from random hex, quoted with pgx.Identifier: LISTEN takes no parameter",
}

var sqlWords = regexp.MustCompile(`(?i)\b(select|insert|update|delete|create|drop|alter|copy|lock)\b`)

// TestSQLIsParameterized reads every non-test Go file of the module and fails where SQL text is
// built from anything but constants: a query call (Exec, Query, QueryRow, Queue, Prepare)
// whose SQL is an expression with a call or a function's own variable in it, or a
// fmt.Sprintf whose format looks like SQL. Values always travel as $n parameters; see
// TestClientNameIsNotSQL (pipeline) for a client name that is SQL round-tripping.
func TestSQLIsParameterized(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "stage" || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		checked++
		if _, ok := sqlBuilt[filepath.ToSlash(rel)]; ok {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			switch sel.Sel.Name {
			case "Sprintf":
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "fmt" && len(call.Args) > 0 {
					if lit, ok := call.Args[0].(*ast.BasicLit); ok && sqlWords.MatchString(lit.Value) {
						t.Errorf("%s: SQL built with fmt.Sprintf", fset.Position(call.Pos()))
					}
				}
			case "Exec", "Query", "QueryRow", "Queue", "Prepare":
				// The SQL argument: after the context, after a prepared statement's name;
				// first for a batch's Queue. The others are parameters.
				i := map[string]int{"Queue": 0, "Prepare": 2}[sel.Sel.Name]
				if sel.Sel.Name != "Queue" && sel.Sel.Name != "Prepare" {
					i = 1
				}
				if i < len(call.Args) && dynamic(call.Args[i]) {
					t.Errorf("%s: %s with SQL built at run time", fset.Position(call.Args[i].Pos()), sel.Sel.Name)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("only %d files checked", checked)
	}
}

// dynamic reports a string concatenation with a call or a local variable in it: SQL text that
// could carry user input.
func dynamic(e ast.Expr) bool {
	b, ok := e.(*ast.BinaryExpr)
	if !ok || b.Op != token.ADD {
		return false
	}
	found := false
	var walk func(e ast.Expr)
	walk = func(e ast.Expr) {
		switch x := e.(type) {
		case *ast.BinaryExpr:
			walk(x.X)
			walk(x.Y)
		case *ast.ParenExpr:
			walk(x.X)
		case *ast.BasicLit:
		case *ast.Ident:
			// a local variable or parameter (declared in a function) is run-time text
			if x.Obj != nil && x.Obj.Kind == ast.Var {
				if _, isField := x.Obj.Decl.(*ast.Field); isField {
					found = true
				}
				if as, ok := x.Obj.Decl.(*ast.AssignStmt); ok && as.Tok == token.DEFINE {
					found = true
				}
			}
		default:
			found = true // a call, an index, a field: not a constant
		}
	}
	walk(b)
	return found
}
