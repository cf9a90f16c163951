//! Unit tests of the Gatekeeper engine, each through one `check`-style helper per feature.
