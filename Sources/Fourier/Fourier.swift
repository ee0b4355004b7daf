// The Fourier module (placeholder until its issue is implemented).

/// Namespace of the Fourier module.
public enum FourierModule {}
