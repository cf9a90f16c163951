//! Gatekeeper engine: ConstraintTemplates and constraints evaluated through regorus.
