// Package dockerfile reads Dockerfiles for lesson 06's builder.
//
// A Dockerfile's syntax is fiddly and not what the lesson is about: parser
// directives (`# escape=`), continuation lines, comments between them, JSON
// arrays versus shell text, here-documents. That part is BuildKit's parser
// (github.com/moby/buildkit/frontend/dockerfile/parser) and its shell lexer
// (.../shell), used behind this package's own types, so no BuildKit type
// reaches the builder. BuildKit's instructions package is not used: its
// types would leak everywhere, and the meaning of each instruction is part
// of the lesson. So the decoding is hand-written here: how many arguments
// each instruction takes, ENV's two syntaxes, the flags of COPY and ADD,
// HEALTHCHECK's options, stage names, what may stand before the first FROM
// (only ARG: those "meta" ARGs are visible in FROM lines only), with
// Docker's error messages ("dockerfile parse error on line 3: unknown
// instruction: FOO").
//
// Two pieces of run-time meaning live here too, because they belong to the
// instructions: Command (the shell form is the shell plus one string, the
// exec form is an argv) and ProcessArgs (how ENTRYPOINT and CMD combine,
// Docker's table; lab 06.2). Lex expands $VARs as Docker does.
//
// Parse reads user input, so it is table-tested and fuzzed: FuzzParse
// checks that it never panics and that every step it returns re-parses from
// its Original text to the same step.
package dockerfile
