package storage

import (
	"github.com/opencontainers/go-digest"
)

// ChainID names a stack of layers (bottom first) as the OCI image-spec
// defines it: the chainID of one layer is its diffID, and each layer above
// is folded in by ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " +
// DiffID(Ln)). Two images that share their first three layers share the
// chainID of those three, so the store can tell "this stack is unpacked"
// from a single name, while a diffID alone says nothing about what lies
// below the layer. ChainID of no layers is "".
func ChainID(diffIDs []digest.Digest) digest.Digest {
	var chain digest.Digest
	for i, d := range diffIDs {
		if i == 0 {
			chain = d
			continue
		}
		chain = digest.FromString(chain.String() + " " + d.String())
	}
	return chain
}
