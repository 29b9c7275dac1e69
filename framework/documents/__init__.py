"""Reading input documents (YAML or JSON) into JSON-shaped values, within bounds."""
