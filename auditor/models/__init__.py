"""The pydantic model tree: one set of classes is the runtime type, the JSON output and the
schema."""
