"""Pure analysis over runs: no files, no rendering."""
