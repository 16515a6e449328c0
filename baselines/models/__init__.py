"""One module per baseline; each exposes the factory its registry line names."""
