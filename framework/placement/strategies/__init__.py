"""Built-in placement strategies: binpack, spread, random. Each module has a ``create(args)``."""
