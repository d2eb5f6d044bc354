"""The shared AWS core: cached clients, AWS errors as calsync's, the table's keys, values and views."""
