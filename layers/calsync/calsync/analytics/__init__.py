"""The analytics lake: lifecycle events as personal-data-free records, and the metrics' SQL."""
