"""The app definition: typed, immutable specs and their parts, validation, Marathon's rules and older shapes."""
