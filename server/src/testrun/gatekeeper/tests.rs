//! Unit tests of the gator Suite runner over an in-memory file source.
