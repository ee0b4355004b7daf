// The Optics module (placeholder until its issue is implemented).

/// Namespace of the Optics module.
public enum OpticsModule {}
