// The MRC module (placeholder until its issue is implemented).

/// Namespace of the MRC module.
public enum MRCModule {}
