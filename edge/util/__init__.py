"""digitlite.edge.util: plumbing: errors, atomic writes, the cache folder, digests, signals, quiet native libraries, the heap."""
