// The STARFile module (placeholder until its issue is implemented).

/// Namespace of the STARFile module.
public enum STARFileModule {}
