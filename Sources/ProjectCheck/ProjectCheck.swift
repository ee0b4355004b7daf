// The ProjectCheck module (placeholder until its issue is implemented).

/// Namespace of the ProjectCheck module.
public enum ProjectCheckModule {}
