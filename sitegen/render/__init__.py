"""Renderers: Structs in, page bytes out. They never touch run directories."""
