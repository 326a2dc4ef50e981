package buildctx

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"

	"minibox/04-storage/storage"
)

// Compression magic numbers, as Docker's DetectCompression tells them.
var (
	magicGzip  = []byte{0x1f, 0x8b, 0x08}
	magicBzip2 = []byte{0x42, 0x5a, 0x68} // "BZh"
	magicXz    = []byte{0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00}
)

// decompress looks at the first bytes of r and returns the stream
// uncompressed: gzip, bzip2 and xz are undone, anything else is passed on
// as it is.
func decompress(r io.Reader) (io.Reader, func() error, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(6)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, nil, err
	}
	nop := func() error { return nil }
	switch {
	case bytes.HasPrefix(head, magicGzip):
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return z, z.Close, nil
	case bytes.HasPrefix(head, magicBzip2):
		return bzip2.NewReader(br), nop, nil
	case bytes.HasPrefix(head, magicXz):
		z, err := xz.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("xz: %w", err)
		}
		return z, nop, nil
	}
	return br, nop, nil
}

// isTar reads ahead in r for one tar header; it returns a reader that
// still yields every byte.
func isTar(r io.Reader) (bool, io.Reader, error) {
	var buf bytes.Buffer
	_, err := tar.NewReader(io.TeeReader(r, &buf)).Next()
	rest := io.MultiReader(&buf, r)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, tar.ErrHeader) {
			return false, rest, nil
		}
		// A corrupt compressed stream is an error, not "not an archive".
		return false, rest, err
	}
	return true, rest, nil
}

// ExtractArchive is ADD's handling of a local archive: r, a tar that is
// plain, gzip-, bzip2- or xz-compressed (told by its first bytes, not its
// name), is unpacked into dst (a directory inside root, created 0755 when
// missing). It returns false, having written nothing, when r is no tar at
// all: the caller then copies the file as it is (open it again: r has been
// read from). Unpacking follows 04-storage's Extract: names that climb out
// are refused and every name is resolved inside root (openat2
// RESOLVE_IN_ROOT), even when dst is a symlink.
func ExtractArchive(root, dst string, r io.Reader) (bool, error) {
	plain, closeFn, err := decompress(r)
	if err != nil {
		return false, fmt.Errorf("extract into %s: %w", dst, err)
	}
	defer closeFn()
	ok, stream, err := isTar(plain)
	if err != nil {
		return false, fmt.Errorf("extract into %s: %w", dst, err)
	}
	if !ok {
		return false, nil
	}
	rt, err := openRoot(root)
	if err != nil {
		return false, fmt.Errorf("extract into %s: %w", dst, err)
	}
	defer rt.Close()
	fd, err := rt.mkdirAll(dst, 0o755, os.Geteuid() == 0, 0, 0)
	if err != nil {
		return false, fmt.Errorf("extract into %s: %w", dst, err)
	}
	defer unix.Close(fd)
	// Extract opens the directory by this name: the magic link leads to the
	// directory just resolved inside root, so a symlink at dst cannot lead
	// it out.
	if _, err := storage.Extract(stream, fmt.Sprintf("/proc/self/fd/%d", fd)); err != nil {
		return false, fmt.Errorf("extract into %s: %w", dst, err)
	}
	return true, nil
}

// FromTar makes the context of `build -`: stdin is a tar (plain or
// compressed), unpacked into tmp (an empty directory the caller removes),
// or else a lone Dockerfile, written to tmp/Dockerfile with nothing else in
// the context. As with Docker, a .dockerignore inside the tar hides nothing:
// the CLI applies .dockerignore only when it makes the tar of a directory. The context's Dockerfile is "Dockerfile" inside it; set
// Dockerfile for another name (-f) before ReadDockerfile.
func FromTar(r io.Reader, tmp string) (*Context, error) {
	abs, err := filepath.Abs(tmp)
	if err != nil {
		return nil, fmt.Errorf("build context from stdin: %w", err)
	}
	plain, closeFn, err := decompress(r)
	if err != nil {
		return nil, fmt.Errorf("build context from stdin: %w", err)
	}
	defer closeFn()
	ok, stream, err := isTar(plain)
	if err != nil {
		return nil, fmt.Errorf("build context from stdin: %w", err)
	}
	if ok {
		if _, err := storage.Extract(stream, abs); err != nil {
			return nil, fmt.Errorf("build context from stdin: %w", err)
		}
	} else {
		f, err := os.OpenFile(filepath.Join(abs, "Dockerfile"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return nil, fmt.Errorf("build context from stdin: %w", err)
		}
		_, err = io.Copy(f, stream)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("build context from stdin: write the Dockerfile: %w", err)
		}
	}
	// No .dockerignore applies: the docker CLI reads it for a directory
	// context only, and sends a tar from stdin as it is.
	return &Context{Dir: abs, Dockerfile: "Dockerfile"}, nil
}
