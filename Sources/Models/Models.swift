// The Models module (placeholder until its issue is implemented).

/// Namespace of the Models module.
public enum ModelsModule {}
