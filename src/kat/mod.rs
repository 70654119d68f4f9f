//! Known-answer vector runner: recognizes each vector file's format and checks every vector.
