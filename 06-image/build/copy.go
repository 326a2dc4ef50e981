package build

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"

	"minibox/06-image/buildctx"
	"minibox/06-image/dockerfile"
)

// group is sources that live under one root: the build context or
// another image (COPY --from), which the sources know (root ""), or a
// download directory (ADD of a URL).
type group struct {
	root    string
	srcs    []buildctx.Source
	archive bool // ADD: a local archive is unpacked, not copied
}

// copy is COPY and ADD. The sources' checksum (buildctx.Checksum: paths,
// types, modes, owners and content, never times) goes into the history
// line, so the cache key changes with the files; on a miss the files are
// copied into a snapshot of the current image and its diff is the layer.
func (r *run) copy(st *stage, s dockerfile.Step) error {
	words, err := r.words(st, s.Args)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Kind, err)
	}
	if len(words) < 2 {
		return fmt.Errorf("%s requires at least two arguments, but only one was provided. Destination could not be determined.", s.Kind)
	}
	patterns, dst := words[:len(words)-1], words[len(words)-1]
	chownSpec, chmodSpec := s.Flags["chown"], s.Flags["chmod"]
	var chmod *fs.FileMode
	if chmodSpec != "" {
		m, err := strconv.ParseUint(chmodSpec, 8, 32)
		if err != nil || m > 0o7777 {
			return fmt.Errorf("%s --chmod=%s: want an octal mode", s.Kind, chmodSpec)
		}
		fm := fs.FileMode(m)
		chmod = &fm
	}
	// A numeric owner is known now and goes into the checksum; a name is
	// looked up in the image's /etc/passwd when the files are copied, and
	// its text is in the history line.
	chown, err := numericOwner(chownSpec)
	if err != nil {
		return err
	}
	sn, err := r.snapshots(s.Kind)
	if err != nil {
		return err
	}
	from := s.Flags["from"]
	if from == "" {
		groups, cleanup, err := r.localSources(st, s.Kind, patterns)
		if err != nil {
			return err
		}
		defer cleanup()
		return r.copyGroups(st, s.Kind, sn, groups, dst, chownSpec, chown, chmodSpec, chmod)
	}
	if s.Kind == "ADD" {
		return fmt.Errorf("ADD does not support the --from flag")
	}
	img, err := r.fromImage(from)
	if err != nil {
		return err
	}
	return sn.View(r.ctx, img, func(root string) error {
		srcs, err := buildctx.FromDir(root).SourcesFor("COPY", patterns)
		if err != nil {
			return err
		}
		return r.copyGroups(st, s.Kind, sn, []group{{srcs: srcs}}, dst, chownSpec, chown, chmodSpec, chmod)
	})
}

// fromImage is COPY --from's image: a stage by name or index, or an image.
func (r *run) fromImage(from string) (digest.Digest, error) {
	if id := r.stageImage(from); id != "" {
		return id, nil
	}
	if n, err := strconv.Atoi(from); err == nil {
		if n < 0 || n >= len(r.results) {
			return "", fmt.Errorf("invalid from flag value %s: refers to a stage that is not built yet", from)
		}
		return r.results[n].img, nil
	}
	return r.image(from)
}

// localSources are the build context's files, and for ADD the downloads
// of its URLs.
func (r *run) localSources(st *stage, kind string, patterns []string) ([]group, func(), error) {
	var local, urls []string
	for _, p := range patterns {
		if kind == "ADD" && isURL(p) {
			urls = append(urls, p)
		} else {
			local = append(local, p)
		}
	}
	var groups []group
	cleanup := func() {}
	if len(local) > 0 {
		srcs, err := r.bctx.SourcesFor(kind, local)
		if err != nil {
			return nil, cleanup, err
		}
		groups = append(groups, group{srcs: srcs, archive: kind == "ADD"})
	}
	if len(urls) > 0 {
		tmp, err := os.MkdirTemp("", "minibox-add-")
		if err != nil {
			return nil, cleanup, fmt.Errorf("ADD: %w", err)
		}
		cleanup = func() { os.RemoveAll(tmp) }
		g := group{root: tmp}
		for i, u := range urls {
			// One directory per URL: two URLs may end in the same name.
			dir := filepath.Join(tmp, strconv.Itoa(i))
			if err := os.Mkdir(dir, 0o700); err != nil {
				cleanup()
				return nil, func() {}, fmt.Errorf("ADD: %w", err)
			}
			name, err := r.download(u, dir)
			if err != nil {
				cleanup()
				return nil, func() {}, err
			}
			rel := filepath.Join(strconv.Itoa(i), name)
			fi, err := os.Lstat(filepath.Join(tmp, rel))
			if err != nil {
				cleanup()
				return nil, func() {}, fmt.Errorf("ADD %s: %w", u, err)
			}
			g.srcs = append(g.srcs, buildctx.Source{Rel: rel, Info: fi})
		}
		groups = append(groups, g)
	}
	return groups, cleanup, nil
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// download fetches u into dir, under the last element of its path, with
// mode 0600 and the mtime of its Last-Modified header (as Docker's ADD).
// The content is hashed like any other source: a changed file misses.
func (r *run) download(u, dir string) (string, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return "", fmt.Errorf("ADD %s: %w", u, err)
	}
	name := path.Base(pu.Path)
	if name == "" || name == "/" || name == "." {
		return "", fmt.Errorf("cannot determine filename from url: %s", u)
	}
	req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("ADD %s: %w", u, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("ADD: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return "", fmt.Errorf("failed to GET %s with status %s", u, resp.Status)
	}
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("ADD %s: %w", u, err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return "", fmt.Errorf("ADD %s: %w", u, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("ADD %s: %w", u, err)
	}
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		if err := os.Chtimes(p, lm, lm); err != nil {
			return "", fmt.Errorf("ADD %s: %w", u, err)
		}
	} else if err := os.Chtimes(p, time.Unix(0, 0), time.Unix(0, 0)); err != nil {
		return "", fmt.Errorf("ADD %s: %w", u, err)
	}
	return name, nil
}

// copyGroups hashes the sources, and on a cache miss copies them.
func (r *run) copyGroups(st *stage, kind string, sn Snapshots, groups []group, dst, chownSpec string, chown *buildctx.Owner, chmodSpec string, chmod *fs.FileMode) error {
	var hashes []string
	n := 0
	for _, g := range groups {
		for _, src := range g.srcs {
			sum, err := buildctx.Checksum([]buildctx.Source{src}, g.root, chown, chmod)
			if err != nil {
				return fmt.Errorf("%s: %w", kind, err)
			}
			prefix := "file:"
			if src.Info.IsDir() {
				prefix = "dir:"
			}
			hashes = append(hashes, prefix+sum.Encoded())
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("%s failed: %w", kind, buildctx.ErrNoSources)
	}
	if n > 1 && !strings.HasSuffix(dst, "/") {
		return fmt.Errorf("When using %s with more than one source file, the destination must be a directory and end with a /", kind)
	}
	srcHash := hashes[0]
	if n > 1 {
		h := sha256.New()
		for _, x := range hashes {
			h.Write([]byte(x))
		}
		srcHash = "multi:" + hex.EncodeToString(h.Sum(nil))
	}
	flags := ""
	if chownSpec != "" {
		flags += "--chown=" + chownSpec + " "
	}
	if chmodSpec != "" {
		flags += "--chmod=" + chmodSpec + " "
	}
	createdBy := nop1(st, fmt.Sprintf("%s %s%s in %s ", kind, flags, srcHash, dst))
	// A relative destination is inside WORKDIR; a trailing / (or ".")
	// keeps meaning "into this directory".
	target := dst
	if !path.IsAbs(target) {
		target = path.Join("/", st.image.Config.WorkingDir, dst)
		if strings.HasSuffix(dst, "/") || dst == "." || strings.HasSuffix(dst, "/.") {
			target += "/"
		}
	}
	next := st.image.Config.clone()
	return r.commit(st, next, createdBy, func() (RunResult, error) {
		return sn.Change(r.ctx, st.img, func(root string) error {
			owner := chown
			if owner == nil && chownSpec != "" {
				var err error
				if owner, err = lookupOwner(root, chownSpec); err != nil {
					return err
				}
			}
			o := buildctx.CopyOptions{Chown: owner, Chmod: chmod, WorkDir: st.image.Config.WorkingDir, Instruction: kind}
			for _, g := range groups {
				o.From = g.root
				for _, src := range g.srcs {
					if g.archive && src.Info.Mode().IsRegular() {
						ok, err := extract(root, target, src)
						if err != nil {
							return fmt.Errorf("%s %s: %w", kind, src.Rel, err)
						}
						if ok {
							continue
						}
					}
					if err := buildctx.CopyInto(root, dst, []buildctx.Source{src}, o); err != nil {
						return err
					}
				}
			}
			return nil
		})
	})
}

// extract unpacks the local archive src into dst (ADD's rule), telling
// false when the file is no archive. src is opened inside the context
// (Source.Open): a context symlink to a tar outside it is refused, as
// COPY refuses it.
func extract(root, dst string, src buildctx.Source) (bool, error) {
	f, err := src.Open("")
	if err != nil {
		return false, err
	}
	defer f.Close()
	return buildctx.ExtractArchive(root, dst, f)
}

// numericOwner reads --chown=UID[:GID]; a name gives nil (looked up later).
func numericOwner(spec string) (*buildctx.Owner, error) {
	if spec == "" {
		return nil, nil
	}
	u, g, hasG := strings.Cut(spec, ":")
	uid, err := strconv.Atoi(u)
	if err != nil {
		return nil, nil
	}
	gid := uid
	if hasG {
		if gid, err = strconv.Atoi(g); err != nil {
			return nil, nil
		}
	}
	if uid < 0 || gid < 0 {
		return nil, fmt.Errorf("--chown=%s: negative IDs", spec)
	}
	return &buildctx.Owner{UID: uid, GID: gid}, nil
}

// lookupOwner resolves --chown=USER[:GROUP] names in the image's
// /etc/passwd and /etc/group (read inside root).
func lookupOwner(root, spec string) (*buildctx.Owner, error) {
	u, g, hasG := strings.Cut(spec, ":")
	uid, gid := -1, -1
	if n, err := strconv.Atoi(u); err == nil {
		uid = n
	} else {
		id, group, err := lookupID(root, "etc/passwd", u)
		if err != nil {
			return nil, fmt.Errorf("unable to convert uid/gid chown string to host mapping: %w", err)
		}
		uid, gid = id, group
	}
	if !hasG {
		if gid < 0 {
			gid = uid
		}
		return &buildctx.Owner{UID: uid, GID: gid}, nil
	}
	if n, err := strconv.Atoi(g); err == nil {
		gid = n
	} else {
		id, _, err := lookupID(root, "etc/group", g)
		if err != nil {
			return nil, fmt.Errorf("unable to convert uid/gid chown string to host mapping: %w", err)
		}
		gid = id
	}
	return &buildctx.Owner{UID: uid, GID: gid}, nil
}

// lookupID finds name in a passwd(5) or group(5) file inside root: its
// ID (field 3) and, for passwd, its group (field 4).
func lookupID(root, file, name string) (int, int, error) {
	rt, err := os.OpenRoot(root)
	if err != nil {
		return 0, 0, err
	}
	defer rt.Close()
	f, err := rt.Open(file)
	if err != nil {
		return 0, 0, fmt.Errorf("unable to find %q: %w", name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 3 || fields[0] != name {
			continue
		}
		id, err := strconv.Atoi(fields[2])
		if err != nil {
			continue
		}
		gid := -1
		if len(fields) > 3 {
			if n, err := strconv.Atoi(fields[3]); err == nil {
				gid = n
			}
		}
		return id, gid, nil
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	return 0, 0, fmt.Errorf("unable to find %q: no matching entries in %s", name, "/"+file)
}
