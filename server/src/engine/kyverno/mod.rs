//! Kyverno engine: ClusterPolicy/Policy evaluation (match, validate, mutate, generate).
