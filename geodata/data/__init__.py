"""Demo data files shipped with geodata (a package only so that its data files are installed)."""
