//! Bytes to values and back, with no sockets: [`body`] (bincode and its
//! decode limits), [`frame`] (length framing), [`control`] (header, hello
//! and answers). The public face of all of it is [`crate::codec`].

pub(crate) mod body;
pub(crate) mod control;
pub(crate) mod frame;
