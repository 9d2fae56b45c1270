//! Sockets only: connecting within a retry budget, socket options, and
//! reading under one deadline. Nothing here knows the wire format.

pub(crate) mod tcp;
