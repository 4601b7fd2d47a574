"""digitlite.edge.vision: reading an image: loading, finding digits, the page's lines, image operations, the MNIST transform."""
