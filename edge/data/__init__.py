"""digitlite.edge.data: the MNIST reader (numpy only) and the classification metrics."""
