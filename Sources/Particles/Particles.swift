// The Particles module (placeholder until its issue is implemented).

/// Namespace of the Particles module.
public enum ParticlesModule {}
