// The Postprocess module (placeholder until its issue is implemented).

/// Namespace of the Postprocess module.
public enum PostprocessModule {}
