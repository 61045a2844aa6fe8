"""The transparency log, with no storage, network or governance rules inside it.

* :mod:`.hasher`: RFC 9162 leaf/node hashing and tree hashes.
* :mod:`.proof`: pure verification of inclusion and consistency proofs.
* :mod:`.tree`: the append-only `MerkleLog` over a `HashStore` storage adapter, proof generation.
* :mod:`.checkpoint`: C2SP signed-note checkpoints and note keys.
* :mod:`.tiles`: the C2SP tlog-tiles layout: tile paths, tile hashes, entry bundles, a reader.
* :mod:`.export`: the export format (produce, read, split into leaf data).
* :mod:`.verify`: offline verification of an export, with hooks for the semantic checks.
"""
