package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sample = "intro\n\n<!-- chapters: skip needs two terminals -->\n" +
	"```console\n$ sleep 100\n```\n\n" +
	"```console\n$ sudo bin/01-namespaces run -- sh\n# echo $$\n1\n/ # hostname\nbox\n" +
	"$ echo a \\\n  b\na b\n$ false\n$ echo $?\n1\n```\n\n```\nnot a console block\n```\n"

func TestParse(t *testing.T) {
	ch, err := Parse(sample + "<!-- chapters: cleanup rm -f x -->\n")
	require.NoError(t, err)
	assert.Equal(t, []string{"rm -f x"}, ch.Cleanups)
	blocks := ch.Blocks
	require.Len(t, blocks, 2)
	assert.Equal(t, "needs two terminals", blocks[0].Skip)
	assert.Equal(t, 4, blocks[0].Line)
	b := blocks[1]
	assert.Empty(t, b.Skip)
	require.Len(t, b.Commands, 4)
	assert.Equal(t, "sudo bin/01-namespaces run -- sh", b.Commands[0].Cmd)
	assert.Equal(t, []string{"echo $$", "hostname"}, b.Commands[0].Stdin)
	assert.Equal(t, []string{"1", "box"}, b.Commands[0].Output)
	assert.Equal(t, "echo a \\\n  b", b.Commands[1].Cmd)
	assert.Equal(t, []string{"a b"}, b.Commands[1].Output)
	assert.Empty(t, b.Commands[2].Output)
}

func TestParseIndented(t *testing.T) {
	ch, err := Parse("- a list item:\n\n  ```console\n  $ echo hi\n  hi\n  ```\n")
	require.NoError(t, err)
	blocks := ch.Blocks
	require.Len(t, blocks, 1)
	require.Len(t, blocks[0].Commands, 1)
	assert.Equal(t, "echo hi", blocks[0].Commands[0].Cmd)
	assert.Equal(t, []string{"hi"}, blocks[0].Commands[0].Output)
}

func TestParseErrors(t *testing.T) {
	for name, text := range map[string]string{
		"output first":      "```console\noutput\n$ true\n```\n",
		"no commands":       "```console\nvagrant@box:~$ ls\n```\n",
		"skip no reason":    "<!-- chapters: skip -->\n```console\n$ true\n```\n",
		"cleanup no cmd":    "<!-- chapters: cleanup -->\n",
		"unknown directive": "<!-- chapters: frobnicate x -->\n```console\n$ true\n```\n",
		"never ends":        "```console\n$ true\n",
		"dangling":          "```console\n$ true\n```\n<!-- chapters: skip why -->\n",
		"not console":       "<!-- chapters: skip why -->\n```\n$ true\n```\n",
	} {
		_, err := Parse(text)
		assert.Error(t, err, name)
	}
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		want, got []string
		ok        bool
	}{
		{nil, nil, true},
		{[]string{"a"}, []string{"a"}, true},
		{[]string{"a"}, []string{"a  "}, true},
		{[]string{"a"}, []string{"b"}, false},
		{[]string{"a"}, nil, false},
		{nil, []string{"a"}, false},
		{[]string{"a", "..."}, []string{"a", "b", "c"}, true},
		{[]string{"...", "c"}, []string{"a", "b", "c"}, true},
		{[]string{"..."}, nil, true},
		{[]string{"a", "...", "d"}, []string{"a", "b", "c"}, false},
		{[]string{"pid <...> own"}, []string{"pid 4026532179 own"}, true},
		{[]string{"pid <...> own"}, []string{"pid 4026532179 yes"}, false},
		{[]string{"x.y <...>"}, []string{"xzy 1"}, false}, // the rest is literal
		{[]string{"<...>"}, []string{""}, true},
	} {
		assert.Equal(t, c.ok, Match(c.want, c.got), "want %q got %q", c.want, c.got)
	}
}

func TestTerminalBlock(t *testing.T) {
	ch, err := Parse("<!-- chapters: terminal -->\n```console\n$ sh -i\n\n/ # echo hi\nhi\n/ # exit\n```\n")
	require.NoError(t, err)
	require.Len(t, ch.Blocks, 1)
	b := ch.Blocks[0]
	assert.True(t, b.Terminal)
	c := b.Commands[0]
	assert.Equal(t, []string{"echo hi", "exit"}, c.Stdin)
	assert.Equal(t, []string{"/ # ", "/ # "}, c.Prompts)
	assert.Equal(t, []string{"", "/ # echo hi", "hi", "/ # exit"}, c.Lines)
}

func TestCleanTerminal(t *testing.T) {
	in := "\x1b[6n/ # \x1b[Jls\r\nbin  dev\r\n\x1b]0;title\a/ # "
	assert.Equal(t, "/ # ls\nbin  dev\n/ # ", string(CleanTerminal([]byte(in))))
}
