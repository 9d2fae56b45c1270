//! Clock-stamped messages over blocking TCP (work in progress).
