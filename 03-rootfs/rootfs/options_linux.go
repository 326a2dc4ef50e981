package rootfs

import (
	"strings"

	"golang.org/x/sys/unix"
)

// A spec mount lists its options as words, the way mount(8) takes them:
// "nosuid", "ro", "mode=755". mount(2) wants two things instead: flag bits
// that the VFS understands for every filesystem (MS_NOSUID, MS_RDONLY), and
// a data string that only the filesystem reads ("mode=755,size=64k").
// Propagation words ("rprivate") need a mount(2) call of their own. This
// table is runc's; a word it does not know goes into the data string.

// mountFlag is one word of the table: set the flag, or clear it.
type mountFlag struct {
	clear bool
	flag  uintptr
}

var mountFlags = map[string]mountFlag{
	"acl":           {false, unix.MS_POSIXACL},
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"iversion":      {false, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"loud":          {true, unix.MS_SILENT},
	"mand":          {false, unix.MS_MANDLOCK},
	"noacl":         {true, unix.MS_POSIXACL},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

// propagationFlags are the words that change how mount events spread
// between peers (see mount_namespaces(7)); the "r" forms act on every
// mount below too.
var propagationFlags = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// IsMountWord reports whether word is a mount(8) flag word this package
// understands (ro, nosuid, relatime, rprivate, ...), as opposed to a
// filesystem's own option such as size=64m. Flag parsers of user input use
// it, so the list of words lives in one place.
func IsMountWord(word string) bool {
	_, flag := mountFlags[word]
	_, prop := propagationFlags[word]
	return flag || prop
}

// mountOptions is what a spec mount's option words mean to mount(2).
type mountOptions struct {
	flags       uintptr   // MS_* for the mount itself
	propagation []uintptr // one extra mount(2) each, in order
	data        string    // the filesystem's own options, comma-separated
}

// parseMountOptions reads option words left to right: a later word wins
// over an earlier one ("ro,rw" is read-write), as in mount(8).
func parseMountOptions(options []string) mountOptions {
	var o mountOptions
	var data []string
	for _, word := range options {
		if f, ok := mountFlags[word]; ok {
			if f.clear {
				o.flags &^= f.flag
			} else {
				o.flags |= f.flag
			}
			continue
		}
		if p, ok := propagationFlags[word]; ok {
			o.propagation = append(o.propagation, p)
			continue
		}
		data = append(data, word)
	}
	o.data = strings.Join(data, ",")
	return o
}

// isBind says whether a spec mount is a bind mount: by its type, or by a
// bind or rbind option (config.json allows both spellings).
func isBind(typ string, flags uintptr) bool {
	return typ == "bind" || flags&unix.MS_BIND != 0
}
