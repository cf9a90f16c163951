//! Schemas: the bundled JSON Schemas, association by apiVersion and kind, validation, and the schema walk
//! behind completion and hover.

mod deprecation;
mod merge;
mod openapi;
mod registry;
mod suggest;
mod validate;
mod walk;

pub use merge::MergeSchema;
pub use openapi::openapi_v3_to_schema;
pub use registry::{Registry, SchemaEntry, SchemaNode, UnknownFields, registry};
pub use suggest::{closest, edit_distance};
pub use validate::{Reader, SchemaError, Target, ValidationOptions, describe_value, validate};
pub use walk::{Property, description_of, properties_of, schema_at, subschemas};
