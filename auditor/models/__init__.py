"""The pydantic model tree: one set of classes is the runtime type, the JSON and the schema."""
