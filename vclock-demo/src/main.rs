//! The vclock demo network (work in progress).

fn main() {}
