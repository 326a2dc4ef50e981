package ipam

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"minibox/internal/atomicfile"
	"minibox/internal/filelock"
)

// Store records the addresses handed out on each network: one JSON file per
// network in its directory, NETID.json. Changes are made under an exclusive
// flock of the directory itself, which is never removed, so that removing
// a network's file (ReleaseAll) cannot leave two commands locking two
// different files of the same name.
type Store struct {
	dir string
}

// record is a network's file.
type record struct {
	// The pool the addresses were taken from, for a human reading the file.
	Subnet  netip.Prefix `json:"subnet"`
	Gateway netip.Addr   `json:"gateway"`
	IPRange netip.Prefix `json:"ipRange,omitempty"`
	// Addresses maps each address handed out to its owner (a container id).
	Addresses map[netip.Addr]string `json:"addresses"`
}

// Open returns the store kept in dir; dir is made on the first Allocate.
func Open(dir string) *Store { return &Store{dir: dir} }

// Allocate gives owner an address on network netID of pool p and records
// it. It is idempotent: an owner that already holds an address gets that
// one again. want zero asks for the lowest free address of p's IPRange (or
// subnet); a wanted address (`run --ip`) must lie in the subnet and be free.
func (s *Store) Allocate(netID string, p Pool, owner string, want netip.Addr) (netip.Addr, error) {
	if err := validID(netID); err != nil {
		return netip.Addr{}, err
	}
	if owner == "" {
		return netip.Addr{}, fmt.Errorf("network %s: allocate: no owner given", netID)
	}
	if want.IsValid() && (!want.Is4() || !p.Subnet.Contains(want)) {
		return netip.Addr{}, fmt.Errorf("no configured subnet or ip-range contain the IP address %s", want)
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return netip.Addr{}, fmt.Errorf("ipam store: %w", err)
	}
	l, err := filelock.Exclusive(s.dir)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("ipam store: %w", err)
	}
	defer l.Unlock()

	rec, err := s.read(netID)
	if err != nil {
		return netip.Addr{}, err
	}
	used := make(map[netip.Addr]bool, len(rec.Addresses))
	for a, o := range rec.Addresses {
		used[a] = true
		if o != owner {
			continue
		}
		if !want.IsValid() || want == a {
			return a, nil // asked again (a retry, a crashed run's rerun): the same answer
		}
		return netip.Addr{}, fmt.Errorf("network %s: %s already holds %s, not %s", netID, owner, a, want)
	}

	a := want
	if a.IsValid() {
		if reserved(p, a) || used[a] {
			return netip.Addr{}, ErrInUse
		}
	} else {
		var ok bool
		a, ok = nextFree(p, used)
		if !ok {
			return netip.Addr{}, fmt.Errorf("%w: %s (%s)", ErrFull, netID, p.Subnet)
		}
		if !p.Subnet.Contains(a) || reserved(p, a) || used[a] {
			// Never write two owners of one address, whatever nextFree says.
			return netip.Addr{}, fmt.Errorf("network %s: next free address %s is outside %s, reserved or taken", netID, a, p.Subnet)
		}
	}
	rec.Subnet, rec.Gateway, rec.IPRange = p.Subnet, p.Gateway, p.IPRange
	rec.Addresses[a] = owner
	if err := s.write(netID, rec); err != nil {
		return netip.Addr{}, err
	}
	return a, nil
}

// Release gives back the address owner holds on netID. An owner with no
// address there (already released, never allocated) is not an error.
func (s *Store) Release(netID, owner string) error {
	if err := validID(netID); err != nil {
		return err
	}
	l, err := s.lock()
	if l == nil || err != nil {
		return err
	}
	defer l.Unlock()
	rec, err := s.read(netID)
	if err != nil {
		return err
	}
	changed := false
	for a, o := range rec.Addresses {
		if o == owner {
			delete(rec.Addresses, a)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return s.write(netID, rec)
}

// ReleaseAll forgets every address of netID (`network rm`) by removing its
// file.
func (s *Store) ReleaseAll(netID string) error {
	if err := validID(netID); err != nil {
		return err
	}
	l, err := s.lock()
	if l == nil || err != nil {
		return err
	}
	defer l.Unlock()
	if err := os.Remove(s.path(netID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("network %s: release all: %w", netID, err)
	}
	return nil
}

// Owners returns the addresses handed out on netID and their owners (empty
// for a network with none). It takes no lock: the file is only ever
// replaced whole, so a reader sees one complete version of it.
func (s *Store) Owners(netID string) (map[netip.Addr]string, error) {
	if err := validID(netID); err != nil {
		return nil, err
	}
	rec, err := s.read(netID)
	if err != nil {
		return nil, err
	}
	return rec.Addresses, nil
}

func (s *Store) path(netID string) string { return filepath.Join(s.dir, netID+".json") }

// lock takes the store's lock; a nil lock and nil error mean the store's
// directory does not exist, so there is nothing to change.
func (s *Store) lock() (*filelock.Lock, error) {
	if _, err := os.Stat(s.dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	l, err := filelock.Exclusive(s.dir)
	if err != nil {
		return nil, fmt.Errorf("ipam store: %w", err)
	}
	return l, nil
}

// read returns netID's record, an empty one when it has no file.
func (s *Store) read(netID string) (record, error) {
	rec := record{Addresses: map[netip.Addr]string{}}
	b, err := os.ReadFile(s.path(netID))
	if errors.Is(err, os.ErrNotExist) {
		return rec, nil
	}
	if err != nil {
		return rec, fmt.Errorf("network %s: %w", netID, err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("network %s: %s: %w", netID, s.path(netID), err)
	}
	if rec.Addresses == nil {
		rec.Addresses = map[netip.Addr]string{}
	}
	return rec, nil
}

func (s *Store) write(netID string, rec record) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("network %s: %w", netID, err)
	}
	if err := atomicfile.WriteFile(s.path(netID), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("network %s: %w", netID, err)
	}
	return nil
}
