"""demo: a bundled sample corpus and the script `ragtune demo` runs."""
