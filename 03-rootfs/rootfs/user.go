package rootfs

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The kernel knows users only by number. Names live in the image, in
// /etc/passwd and /etc/group, so `docker run -u www-data` must read the
// image's files, never the host's: the same name may have another number
// there, or not exist at all.

// passwdEntry is one line of /etc/passwd: name:password:UID:GID:GECOS:home:shell.
type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

// groupEntry is one line of /etc/group: name:password:GID:member,member.
type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

// LookupUser resolves a user as `docker run -u` takes it, reading the
// /etc/passwd and /etc/group of the root filesystem at rootDir: "name",
// "uid", "name:group", "uid:gid" (and the mixed forms). It returns the
// numeric user with the supplementary groups that /etc/group lists the user
// as a member of, and the home directory from /etc/passwd ("/" when the
// user has no entry).
//
// A number needs no entry: "1000:1000" works on an empty image, as in
// Docker, with group 0 when only the UID is given and passwd does not know
// it. A name that the image does not define is an error.
func LookupUser(rootDir, user string) (specs.User, string, error) {
	if user == "" {
		return specs.User{}, "", errors.New("empty user")
	}
	userPart, groupPart, hasGroup := strings.Cut(user, ":")
	if userPart == "" || (hasGroup && groupPart == "") {
		return specs.User{}, "", fmt.Errorf("invalid user %q: use name, uid, name:group or uid:gid", user)
	}
	passwdPath, err := InRoot(rootDir, "/etc/passwd")
	if err != nil {
		return specs.User{}, "", err
	}
	groupPath, err := InRoot(rootDir, "/etc/group")
	if err != nil {
		return specs.User{}, "", err
	}
	passwd, err := readPasswd(passwdPath)
	if err != nil {
		return specs.User{}, "", err
	}
	groups, err := readGroup(groupPath)
	if err != nil {
		return specs.User{}, "", err
	}

	u := specs.User{}
	home := "/"
	var entry *passwdEntry
	if uid, ok := parseID(userPart); ok {
		u.UID = uid
		for i := range passwd {
			if passwd[i].uid == uid {
				entry = &passwd[i]
				break
			}
		}
	} else {
		for i := range passwd {
			if passwd[i].name == userPart {
				entry = &passwd[i]
				break
			}
		}
		if entry == nil {
			return specs.User{}, "", fmt.Errorf("unable to find user %s: no matching entries in passwd file", userPart)
		}
		u.UID = entry.uid
	}
	if entry != nil {
		u.GID = entry.gid
		if entry.home != "" {
			home = entry.home
		}
	}
	if hasGroup {
		if gid, ok := parseID(groupPart); ok {
			u.GID = gid
		} else {
			found := false
			for _, g := range groups {
				if g.name == groupPart {
					u.GID, found = g.gid, true
					break
				}
			}
			if !found {
				return specs.User{}, "", fmt.Errorf("unable to find group %s: no matching entries in group file", groupPart)
			}
		}
	}
	if entry != nil {
		seen := map[uint32]bool{}
		for _, g := range groups {
			for _, m := range g.members {
				if m == entry.name && !seen[g.gid] {
					seen[g.gid] = true
					u.AdditionalGids = append(u.AdditionalGids, g.gid)
				}
			}
		}
	}
	return u, home, nil
}

// parseID reads a user or group number.
func parseID(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}

// readPasswd parses a passwd file; a missing file is an empty one.
func readPasswd(path string) ([]passwdEntry, error) {
	var out []passwdEntry
	err := readColonFile(path, func(f []string) {
		if len(f) < 4 {
			return
		}
		uid, ok1 := parseID(f[2])
		gid, ok2 := parseID(f[3])
		if !ok1 || !ok2 {
			return
		}
		e := passwdEntry{name: f[0], uid: uid, gid: gid}
		if len(f) > 5 {
			e.home = f[5]
		}
		out = append(out, e)
	})
	return out, err
}

// readGroup parses a group file; a missing file is an empty one.
func readGroup(path string) ([]groupEntry, error) {
	var out []groupEntry
	err := readColonFile(path, func(f []string) {
		if len(f) < 3 {
			return
		}
		gid, ok := parseID(f[2])
		if !ok {
			return
		}
		e := groupEntry{name: f[0], gid: gid}
		if len(f) > 3 && f[3] != "" {
			e.members = strings.Split(f[3], ",")
		}
		out = append(out, e)
	})
	return out, err
}

// readColonFile calls line for the fields of each line that is not blank or
// a comment.
func readColonFile(path string, line func(fields []string)) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the image's user database: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		l := strings.TrimSpace(s.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		line(strings.Split(l, ":"))
	}
	if err := s.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}
