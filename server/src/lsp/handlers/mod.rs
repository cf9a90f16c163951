//! The handlers: one free function per request or notification. Requests take a snapshot (and, about a
//! document, its line index and offset) and return plain protocol results; notifications and the
//! lifecycle requests change the session on the main loop.

pub mod lifecycle;
pub mod notification;
pub mod request;
