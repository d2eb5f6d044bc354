"""The read path: what applications may ask calsync about a connection's data (issue 18)."""
