// The Report module (placeholder until its issue is implemented).

/// Namespace of the Report module.
public enum ReportModule {}
