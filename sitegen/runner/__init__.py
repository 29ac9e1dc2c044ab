"""`sitegen run`: a benchmark matrix run entry by entry, each on its own Ray cluster, into the
nightly-session layout that the `nightly` reader reads (FORMATS.md §3)."""
