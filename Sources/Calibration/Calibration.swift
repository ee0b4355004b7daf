// The Calibration module (placeholder until its issue is implemented).

/// Namespace of the Calibration module.
public enum CalibrationModule {}
