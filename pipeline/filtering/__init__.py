"""Query filters: each rule a small function or class, composed by the filter stage."""
