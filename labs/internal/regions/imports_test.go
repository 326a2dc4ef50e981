package regions

import (
	"go/parser"
	"go/token"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFixImports(t *testing.T) {
	cases := []struct {
		name string
		orig string // the reference file ("" means: no reference)
		src  string // the file after replacement
		want string
	}{
		{
			name: "adds lab to a group of its own",
			orig: "package p\n\nimport (\n\t\"fmt\"\n)\n\nfunc f() error { return fmt.Errorf(\"x\") }\n\nfunc g() { fmt.Println() }\n",
			src:  "package p\n\nimport (\n\t\"fmt\"\n)\n\nfunc f() error { return lab.Todo(\"01.1\") }\n\nfunc g() { fmt.Println() }\n",
			want: "package p\n\nimport (\n\t\"fmt\"\n\n\t\"minibox/labs/lab\"\n)\n\nfunc f() error { return lab.Todo(\"01.1\") }\n\nfunc g() { fmt.Println() }\n",
		},
		{
			name: "adds lab to our own group",
			orig: "package p\n\nimport (\n\t\"os\"\n\n\t\"minibox/internal/x\"\n)\n\nvar _ = x.Y\nvar _ = os.Args\n",
			src:  "package p\n\nimport (\n\t\"os\"\n\n\t\"minibox/internal/x\"\n)\n\nvar _ = x.Y\nvar _ = os.Args\nvar _ = lab.Todo\n",
			want: "package p\n\nimport (\n\t\"os\"\n\n\t\"minibox/internal/x\"\n\t\"minibox/labs/lab\"\n)\n\nvar _ = x.Y\nvar _ = os.Args\nvar _ = lab.Todo\n",
		},
		{
			name: "adds lab to a single import",
			orig: "package p\n\nimport \"os\"\n\nvar _ = os.Args\n",
			src:  "package p\n\nimport \"os\"\n\nvar _ = os.Args\nvar _ = lab.Todo\n",
			want: "package p\n\nimport (\n\t\"os\"\n\n\t\"minibox/labs/lab\"\n)\n\nvar _ = os.Args\nvar _ = lab.Todo\n",
		},
		{
			name: "adds lab to a file without imports",
			orig: "package p\n\nfunc f() error { return nil }\n",
			src:  "package p\n\nfunc f() error { return lab.Todo(\"01.1\") }\n",
			want: "package p\n\nimport \"minibox/labs/lab\"\n\nfunc f() error { return lab.Todo(\"01.1\") }\n",
		},
		{
			name: "keeps an existing lab import",
			orig: "package p\n\nimport \"minibox/labs/lab\"\n\nvar _ = lab.Todo\n",
			src:  "package p\n\nimport \"minibox/labs/lab\"\n\nvar _ = lab.Todo\n",
			want: "package p\n\nimport \"minibox/labs/lab\"\n\nvar _ = lab.Todo\n",
		},
		{
			name: "a local variable named lab is not the package",
			orig: "package p\n\nfunc f() { var lab struct{ Todo int }; _ = lab.Todo }\n",
			src:  "package p\n\nfunc f() { var lab struct{ Todo int }; _ = lab.Todo }\n",
			want: "package p\n\nfunc f() { var lab struct{ Todo int }; _ = lab.Todo }\n",
		},
		{
			name: "drops unused, keeps used, blank, dot and unknown-name imports",
			orig: "package p\n\nimport (\n" +
				"\t\"fmt\"\n" +
				"\t\"os\" // for the args\n" +
				"\t// strings builds the text\n" +
				"\t\"strings\"\n" +
				"\t_ \"embed\"\n" +
				"\t. \"math\"\n" +
				"\tdigest \"github.com/opencontainers/go-digest\"\n" +
				"\t\"github.com/compose-spec/compose-go/v2/types\"\n" +
				"\n" +
				"\t\"example.com/oddname\"\n" +
				")\n\n" +
				"var _ = fmt.Sprint(os.Args, strings.ToUpper(\"\"), Pi, digest.Digest(\"\"), types.Project{}, odd.X)\n",
			src: "package p\n\nimport (\n" +
				"\t\"fmt\"\n" +
				"\t\"os\" // for the args\n" +
				"\t// strings builds the text\n" +
				"\t\"strings\"\n" +
				"\t_ \"embed\"\n" +
				"\t. \"math\"\n" +
				"\tdigest \"github.com/opencontainers/go-digest\"\n" +
				"\t\"github.com/compose-spec/compose-go/v2/types\"\n" +
				"\n" +
				"\t\"example.com/oddname\"\n" +
				")\n\n" +
				"var _ = fmt.Sprint(odd.X)\n",
			want: "package p\n\nimport (\n" +
				"\t_ \"embed\"\n" +
				"\t\"fmt\"\n" +
				"\t. \"math\"\n" +
				"\n" +
				"\t\"example.com/oddname\"\n" +
				")\n\n" +
				"var _ = fmt.Sprint(odd.X)\n",
		},
		{
			name: "drops a whole single import",
			orig: "package p\n\n// os is for the args.\nimport \"os\"\n\nvar _ = os.Args\n",
			src:  "package p\n\n// os is for the args.\nimport \"os\"\n\nvar _ = 1\n",
			want: "package p\n\nvar _ = 1\n",
		},
		{
			name: "drops a single import with its line comment",
			orig: "package p\n\nimport \"os\" // for the args\n\nvar _ = os.Args\n",
			src:  "package p\n\nimport \"os\" // for the args\n\nvar _ = 1\n",
			want: "package p\n\nvar _ = 1\n",
		},
		{
			name: "drops v2 path by its parent's name",
			orig: "package p\n\nimport \"example.com/thing/v2\"\n\nvar _ = thing.X\n",
			src:  "package p\n\nimport \"example.com/thing/v2\"\n\nvar _ = 1\n",
			want: "package p\n\nvar _ = 1\n",
		},
		{
			name: "drops and adds in one file",
			orig: "package p\n\nimport (\n\t\"errors\"\n\t\"os\"\n)\n\nfunc f() error { return errors.New(\"x\") }\nvar _ = os.Args\n",
			src:  "package p\n\nimport (\n\t\"errors\"\n\t\"os\"\n)\n\nfunc f() error { return lab.Todo(\"01.1\") }\nvar _ = os.Args\n",
			want: "package p\n\nimport (\n\t\"os\"\n\n\t\"minibox/labs/lab\"\n)\n\nfunc f() error { return lab.Todo(\"01.1\") }\n\nvar _ = os.Args\n",
		},
		{
			name: "without a reference every unused import goes",
			src:  "package p\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nvar _ = os.Args\n",
			want: "package p\n\nimport (\n\t\"os\"\n)\n\nvar _ = os.Args\n",
		},
		{
			name: "keeps import C and adds lab after it",
			orig: "package p\n\n// #include <stdio.h>\nimport \"C\"\n\nfunc f() error { return nil }\n",
			src:  "package p\n\n// #include <stdio.h>\nimport \"C\"\n\nfunc f() error { return lab.Todo(\"01.1\") }\n",
			want: "package p\n\n// #include <stdio.h>\nimport \"C\"\n\nimport \"minibox/labs/lab\"\n\nfunc f() error { return lab.Todo(\"01.1\") }\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var orig []byte
			if tc.orig != "" {
				orig = []byte(tc.orig)
			}
			got, err := FixImports("f.go", orig, []byte(tc.src))
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
		})
	}
}

func TestFixImportsSyntaxError(t *testing.T) {
	_, err := FixImports("f.go", nil, []byte("package p\nfunc {"))
	assert.ErrorContains(t, err, "f.go:2")
}

func TestImportName(t *testing.T) {
	cases := map[string]string{
		`"fmt"`:                   "fmt",
		`"golang.org/x/sys/unix"`: "unix",
		`"github.com/compose-spec/compose-go/v2"`:           "compose",
		`"github.com/schollz/progressbar/v3"`:               "progressbar",
		`"gopkg.in/yaml.v3"`:                                "yaml",
		`"github.com/opencontainers/go-digest"`:             "digest",
		`"github.com/opencontainers/runtime-spec/specs-go"`: "specs",
		`"example.com/odd.name"`:                            "",
		`x "fmt"`:                                           "x",
		`_ "embed"`:                                         "_",
	}
	for spec, want := range cases {
		t.Run(spec, func(t *testing.T) {
			f, err := parser.ParseFile(token.NewFileSet(), "f.go", "package p\nimport "+spec+"\n", 0)
			require.NoError(t, err)
			assert.Equal(t, want, ImportName(f.Imports[0]))
		})
	}
}
